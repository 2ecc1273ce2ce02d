"""The pipeline's last steps: frames into the model's layout, then the packed item."""

from typing import Sequence

from zelda.data.sample import DataSample
from zelda.data.transforms.compose import Results


class VideoFormat:
    """Arrange frames as `[num_crops * num_clips, C, clip_len, H, W]`, crop-major (view
    `crop * num_clips + clip`). Reads `imgs`, `num_clips`, `clip_len`, `num_crops` (1 when
    absent); changes `imgs`.
    """

    def __call__(self, results: Results) -> Results:
        imgs = results["imgs"]
        views = results["num_clips"] * results.get("num_crops", 1)
        imgs = imgs.reshape(views, results["clip_len"], *imgs.shape[1:])
        results["imgs"] = imgs.permute(0, 2, 1, 3, 4)
        return results

    def __repr__(self) -> str:
        return "VideoFormat()"


class VideoPack:
    """Pack the model input and its record. Reads `imgs`, `label`, `filename` and
    `meta_keys`; returns `{"inputs": uint8 tensor, "sample": DataSample}`.
    """

    def __init__(self, meta_keys: Sequence[str] = ("img_shape", "num_clips", "clip_len", "num_crops")) -> None:
        self.meta_keys = tuple(meta_keys)

    def __call__(self, results: Results) -> Results:
        meta = {key: results[key] for key in self.meta_keys if key in results}
        sample = DataSample(label=int(results["label"]), filename=str(results["filename"]), meta=meta)
        return {"inputs": results["imgs"].contiguous(), "sample": sample}

    def __repr__(self) -> str:
        return f"VideoPack(meta_keys={self.meta_keys})"
