"""emotion-edge: camera frames to facial-emotion results on small devices."""

import os

__version__ = "0.1.0"

# OpenCV refuses to decode images larger than this (its default, 1 gigapixel, lets a small
# PNG claim 27000x27000 pixels and take gigabytes). 120 megapixels still admits the largest
# phone photos (108 MP). Set here, before any module of ours imports cv2; OpenCV reads it
# when it first decodes an image. An environment variable of the user's wins.
MAX_IMAGE_PIXELS = 120_000_000
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(MAX_IMAGE_PIXELS))
