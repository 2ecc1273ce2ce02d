"""The recognizer: preprocessor -> backbone -> head, over all views of each video."""

from typing import Sequence

import torch
from torch import nn

MODES = ("loss", "predict", "tensor")


class Recognizer(nn.Module):
    """Classify videos given as uint8 `[B, V, C, T, H, W]` (V = clips x crops per video).

    The V views are folded into the batch, `[B * V, C, T, H, W]`, for the backbone.
    """

    def __init__(
        self, backbone: nn.Module, head: nn.Module, preprocessor: nn.Module, channels_last: bool = False
    ) -> None:
        super().__init__()
        self.preprocessor = preprocessor
        self.backbone = backbone
        self.head = head
        # channels-last (NDHWC) strides suit oneDNN's and cuDNN's Conv3d kernels better
        self.memory_format = torch.channels_last_3d if channels_last else torch.contiguous_format
        self.backbone.to(memory_format=self.memory_format)

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        """Backbone features of every view, `[B * V, C', T', H', W']`."""
        inputs = self.preprocessor(inputs).flatten(0, 1)
        return self.backbone(inputs.contiguous(memory_format=self.memory_format))

    def forward(
        self, inputs: torch.Tensor, samples: Sequence | None = None, mode: str = "tensor"
    ) -> torch.Tensor:
        """`loss`: scalar loss; `predict`: per-video scores; `tensor`: features."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        feats = self.extract_feat(inputs)
        if mode == "tensor":
            return feats
        if mode == "loss":
            labels = torch.tensor([sample.label for sample in samples])
            return self.head.loss(feats, labels)
        return self.head.predict(feats, num_views=inputs.shape[1])
