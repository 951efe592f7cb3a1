"""The analysis chain: a frame in, faces found, framed, classified, tracked and decided."""
