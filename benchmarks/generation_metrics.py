"""The figures both generation benchmarks report, computed the same way for every method.

    agreement  the share of samples the independent judge (judge.py, never used by the generator)
               classifies as the requested digit
    diversity  mean pairwise pixel distance (L2 over the 784 pixels in [0, 1]) within a digit's
               samples, divided by the same for all real test digits of that digit
    realism    mean L2 distance from each sample to its nearest MNIST training digit, divided by the
               same for real test digits (the first REAL_PER_DIGIT of each digit): 1.0 means as close
               to the training set as unseen real digits are; blurred, broken or adversarial images
               sit further away
"""

from __future__ import annotations

import torch

import judge as judge_module

from digittui.data import load_mnist

REAL_PER_DIGIT = 100


def mean_pairwise_distance(images: torch.Tensor) -> float:
    """images [N, 28, 28] -> mean L2 distance over all pairs i != j."""
    flat = images.reshape(len(images), -1).float()
    n = len(images)
    return float(torch.cdist(flat, flat).sum() / (n * (n - 1)))


class Reference:
    """MNIST's training digits (for realism) and test digits (the real figures each ratio divides by)."""

    def __init__(self, data_dir) -> None:
        train, test = (load_mnist(data_dir, train=t) for t in (True, False))
        self.train = train.float_images()[:, 0].reshape(len(train), -1)  # [60000, 784]
        self.train_sq = self.train.pow(2).sum(1)  # [60000]
        self.test = {d: test.float_images(test.labels == d)[:, 0] for d in range(10)}  # each [~1000, 28, 28]
        self.real_diversity = {d: mean_pairwise_distance(x) for d, x in self.test.items()}
        real = torch.cat([x[:REAL_PER_DIGIT] for x in self.test.values()])
        self.real_nearest = float(self.nearest(real).mean())
        self.judge = judge_module.load()

    def nearest(self, images: torch.Tensor) -> torch.Tensor:
        """images [N, 28, 28] -> [N]: L2 distance to the nearest training digit."""
        out = []
        for chunk in images.reshape(len(images), -1).float().split(256):
            d2 = chunk.pow(2).sum(1, keepdim=True) + self.train_sq - 2 * chunk @ self.train.T  # [n, 60000]
            out.append(d2.min(1).values.clamp_min(0).sqrt())
        return torch.cat(out)

    def score(self, samples: dict[int, torch.Tensor]) -> dict:
        """{digit: images [N, 28, 28]} -> the figures overall and per digit (rounded, for JSON)."""
        per_digit, agree, nearest = {}, [], []
        for d, images in samples.items():
            a = (judge_module.predict(self.judge, images) == d).float()
            n = self.nearest(images)
            agree.append(a)
            nearest.append(n)
            per_digit[d] = {"agreement": round(float(a.mean()), 4),
                            "diversity": round(mean_pairwise_distance(images) / self.real_diversity[d], 3),
                            "realism": round(float(n.mean()) / self.real_nearest, 3)}
        return {"agreement": round(float(torch.cat(agree).mean()), 4),
                "min_agreement": min(v["agreement"] for v in per_digit.values()),
                "min_diversity": min(v["diversity"] for v in per_digit.values()),
                "realism": round(float(torch.cat(nearest).mean()) / self.real_nearest, 3),
                "per_digit": per_digit}
