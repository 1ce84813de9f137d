"""The digit classifier: conv blocks at three resolutions and a small fully connected head, trained with
cross-entropy."""

from __future__ import annotations

from copy import deepcopy

import torch
import torch.nn as nn
import torch.nn.functional as F

from digittui.modelconfig import CNNConfig

# Pixel statistics of the MNIST training set; normalising inside the model lets every caller
# (training, classification, guided generation) hand it plain [0, 1] images.
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


class CNN(nn.Module):
    # Logits / temperature are the calibrated ones (digittui.calibration): checkpoints.load sets it
    # from the checkpoint's calibration; 1 for a CNN that has none.
    temperature: float = 1.0

    def __init__(self, config: CNNConfig | None = None) -> None:
        super().__init__()
        c = self.config = config or CNNConfig()
        self.conv1 = nn.Conv2d(1, c.conv1, 5, padding=2, bias=False)
        self.bn1 = nn.BatchNorm2d(c.conv1)
        self.conv2 = nn.Conv2d(c.conv1, c.conv2, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c.conv2)
        self.conv3 = nn.Conv2d(c.conv2, c.conv3, 3, padding=1, bias=False)
        self.bn3 = nn.BatchNorm2d(c.conv3)
        # Empty when depth is 1: checkpoints of the three-conv CNN load unchanged.
        self.more1, self.more2, self.more3 = (_same_width_convs(n, c.depth - 1) for n in (c.conv1, c.conv2, c.conv3))
        self.fc1 = nn.Linear(c.conv3 * 3 * 3, c.hidden)
        self.dropout = nn.Dropout(c.dropout)
        self.fc2 = nn.Linear(c.hidden, c.num_outputs)
        # channels_last: faster convolutions on the CPU (benchmarks/RESULTS.md) and the layout
        # tensor cores want on the GPU.
        self.to(memory_format=torch.channels_last)

    def calibrated_copy(self) -> "CNN":
        """An eval-mode copy whose logits are the calibrated ones (these divided by `temperature`)."""
        copy = deepcopy(self).eval()
        with torch.no_grad():
            copy.fc2.weight /= self.temperature
            copy.fc2.bias /= self.temperature
        copy.temperature = 1.0
        return copy

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [B, 1, 28, 28] in [0, 1] -> logits [B, num_outputs]."""
        x = ((x - MNIST_MEAN) / MNIST_STD).contiguous(memory_format=torch.channels_last)
        x = F.max_pool2d(self.more1(F.relu(self.bn1(self.conv1(x)))), 2)  # [B, conv1, 14, 14]
        x = F.max_pool2d(self.more2(F.relu(self.bn2(self.conv2(x)))), 2)  # [B, conv2, 7, 7]
        x = F.max_pool2d(self.more3(F.relu(self.bn3(self.conv3(x)))), 2)  # [B, conv3, 3, 3]
        x = F.relu(self.fc1(torch.flatten(x, 1)))  # [B, hidden]
        return self.fc2(self.dropout(x))  # [B, num_outputs]


def _same_width_convs(channels: int, count: int) -> nn.Sequential:
    """`count` blocks of 3x3 conv, batch norm and ReLU that keep the width and the resolution."""
    layers: list[nn.Module] = []
    for _ in range(count):
        layers += [nn.Conv2d(channels, channels, 3, padding=1, bias=False), nn.BatchNorm2d(channels), nn.ReLU()]
    return nn.Sequential(*layers)
