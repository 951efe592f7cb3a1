"""emotion-edge: camera frames to facial-emotion results on small devices."""

__version__ = "0.1.0"
