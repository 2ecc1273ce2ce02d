"""The Zelda backbone: two Conv3d stages, as in the reference tutorial."""

import torch
from torch import nn


def conv_bn_relu(in_channels: int, out_channels: int, **conv: object) -> nn.Sequential:
    """Conv3d + BatchNorm3d + ReLU, the backbone's only building block."""
    return nn.Sequential(
        nn.Conv3d(in_channels, out_channels, **conv), nn.BatchNorm3d(out_channels), nn.ReLU()
    )


class ZeldaBackbone(nn.Module):
    """`[N, 3, T, H, W]` -> `[N, 128, ceil(T/2), ceil(H/8), ceil(W/8)]` features.

    Conv3d weights are Kaiming-normal (fan_out, relu) with zero bias; BatchNorm weight
    1, bias 0: the reference's initialization.
    """

    out_channels = 128

    def __init__(self, in_channels: int = 3, norm_eval: bool = False) -> None:
        super().__init__()
        self.norm_eval = norm_eval
        self.conv1 = conv_bn_relu(in_channels, 64, kernel_size=(3, 7, 7), stride=(1, 2, 2), padding=(1, 3, 3))
        self.maxpool = nn.MaxPool3d(kernel_size=(1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
        self.conv = conv_bn_relu(64, self.out_channels, kernel_size=3, stride=2, padding=1)
        self.init_weights()

    def init_weights(self) -> None:
        """Reset all weights to the reference initialization."""
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(module.bias)
            elif isinstance(module, nn.BatchNorm3d):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)

    def train(self, mode: bool = True) -> "ZeldaBackbone":
        """With `norm_eval`, BatchNorm keeps using its running statistics while training
        (frozen BN: results no longer depend on how clips are split into batches)."""
        super().train(mode)
        if self.norm_eval:
            for module in self.modules():
                if isinstance(module, nn.BatchNorm3d):
                    module.eval()
        return self

    def forward(self, imgs: torch.Tensor) -> torch.Tensor:
        return self.conv(self.maxpool(self.conv1(imgs)))
