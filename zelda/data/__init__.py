"""Data: video transforms, the annotation-file dataset and its loaders."""
