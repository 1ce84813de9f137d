"""The independent judge of generated digits: LeNet-5, trained separately from the app's CNN.

Guided generation optimizes images against the app's CNN, so the CNN's own verdict on them proves
little: an image can fool the network it was optimized for. The judge is a different network
(LeNet-5: unpadded 5x5 convolutions, average pooling, no batch norm, 61k weights, in the spirit of
LeCun et al. 1998), trained by this script on the MNIST training set with its own seed, and never
seen by the generator. Its weights are stored in float16 (~0.1 MB).

Reproduce benchmarks/judge.pt (a few minutes on 2 CPU cores; test accuracy is printed and stored):

    DIGITTUI_DATA=/path/to/data python benchmarks/judge.py --epochs 8 --seed 7
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

WEIGHTS = Path(__file__).resolve().parent / "judge.pt"


class Judge(nn.Module):
    """LeNet-5 with ReLU. Input [B, 1, 28, 28] or [B, 28, 28] in [0, 1] -> logits [B, 10]."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5, padding=2)  # 28 -> 28 (LeNet's 32x32 input, as padding)
        self.conv2 = nn.Conv2d(6, 16, 5)  # 14 -> 10
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(-1, 1, 28, 28) * 2 - 1  # [B, 1, 28, 28] in [-1, 1]
        x = F.avg_pool2d(F.relu(self.conv1(x)), 2)  # [B, 6, 14, 14]
        x = F.avg_pool2d(F.relu(self.conv2(x)), 2)  # [B, 16, 5, 5]
        x = F.relu(self.fc1(torch.flatten(x, 1)))  # [B, 120]
        x = F.relu(self.fc2(x))  # [B, 84]
        return self.fc3(x)  # [B, 10]


def load(path: Path = WEIGHTS) -> Judge:
    payload = torch.load(path, map_location="cpu", weights_only=True)
    model = Judge()
    model.load_state_dict({k: v.float() for k, v in payload["model"].items()})
    return model.eval()


@torch.no_grad()
def predict(model: Judge, images: torch.Tensor) -> torch.Tensor:
    """images [N, 28, 28] in [0, 1] -> the judge's digit [N]."""
    return torch.cat([model(chunk).argmax(1) for chunk in images.float().split(4096)])


def main() -> None:
    from digittui.data import augment, epoch_batches, load_mnist
    from digittui.paths import data_dir

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8, help="passes over the training set (default: 8)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    parser.add_argument("--data-dir", help="folder holding MNIST/raw/ (default: $DIGITTUI_DATA)")
    parser.add_argument("--output", default=str(WEIGHTS), help=f"weights file (default: {WEIGHTS})")
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    train, test = (load_mnist(data_dir(args.data_dir), train=t) for t in (True, False))
    model = Judge()
    batch = 128
    steps = args.epochs * math.ceil(len(train) / batch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=steps)
    start = time.time()
    for epoch in range(args.epochs):
        model.train()
        for index in epoch_batches(len(train), batch, generator, "cpu", drop_last=False):
            # Small shifts and rotations, as the generator's own jitter, so the judge does not
            # reject a well-formed digit for sitting a pixel off centre.
            x = augment(train.float_images(index), generator, max_degrees=8, max_shift=2)
            loss = F.cross_entropy(model(x), train.labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
        model.eval()
        accuracy = (predict(model, test.float_images()[:, 0]) == test.labels).float().mean().item()
        print(f"epoch {epoch + 1}: test accuracy {accuracy:.4f} ({time.time() - start:.0f} s)")
    torch.save({"model": {k: v.half() for k, v in model.state_dict().items()},
                "test_accuracy": accuracy, "epochs": args.epochs, "seed": args.seed}, args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
