"""The live web view: the page, the MJPEG stream, /metrics, and the server that bounds clients."""
