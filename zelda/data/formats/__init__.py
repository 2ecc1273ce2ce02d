"""Dataset formats: how a dataset's layout on disk names its videos, labels and classes."""
