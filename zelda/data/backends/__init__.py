"""One reader per decoder library, behind `zelda.data.video.Video`.

Each module, named as its `pipeline.backend` (`decord`, `pyav`, `torchcodec`), imports its
library at the top and is itself imported only when a video is opened with that backend, so
importing zelda imports no decoder. A module defines `Reader` (a `BaseReader`) and `ERRORS`: what
its library raises for a file that cannot be opened or decoded.
"""

import torch


class BaseReader:
    """An opened file: `num_frames` and `fps`, read at open, and frames by index.

    `frames(indices)` takes indices in any order, repeats included, all in
    `[0, num_frames)` (`Video` checks), and returns uint8 `[N, H, W, 3]` on the CPU.
    """

    num_frames: int
    fps: float

    def frames(self, indices: list[int]) -> torch.Tensor:
        raise NotImplementedError

    def frame(self, index: int) -> torch.Tensor:
        """Frame `index` alone, uint8 `[H, W, 3]`."""
        return self.frames([index])[0]
