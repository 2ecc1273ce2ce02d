"""Models: data preprocessor, backbone, head and the recognizer that joins them."""
