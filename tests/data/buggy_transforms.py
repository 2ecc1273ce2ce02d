"""A transform with a deliberate programming error, importable by Hydra's `_target_` in CLI tests
(run with this folder on PYTHONPATH)."""

from zelda.data.transforms import Results, VideoResize


class BuggyResize(VideoResize):
    """VideoResize reading a key that no transform adds: a bug, not an unreadable video."""

    def __call__(self, results: Results) -> Results:
        return super().__call__({**results, "imgs": results["images"]})
