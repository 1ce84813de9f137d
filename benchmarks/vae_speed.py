"""VAE speed and quality: `digittui train vae` vs a loop written like pytorch/examples' vae/main.py.

Prints one JSON line: seconds per epoch (training only), test loss in nats per image after each
epoch, and the ratios, both measured in this run.

    DIGITTUI_DATA=../shared/data python benchmarks/vae_speed.py [--device cpu] [--epochs 2]

The baseline is pytorch/examples vae/main.py as published: an MLP VAE (784-400-20), Adam lr 1e-3,
batch 128, ToTensor per sample through a DataLoader, loss = BCE summed + KL, test loss per image.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

from train_speed import timed_lines  # same folder: run as `python benchmarks/vae_speed.py`

BASELINE = r'''
import json, sys, time
import torch, torch.nn as nn, torch.nn.functional as F
from torchvision import datasets, transforms

class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)
        self.fc22 = nn.Linear(400, 20)
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)
    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)
    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std
    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        z = self.reparameterize(mu, logvar)
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))), mu, logvar

def loss_function(recon_x, x, mu, logvar):
    bce = F.binary_cross_entropy(recon_x, x.view(-1, 784), reduction="sum")
    return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())

root, device, epochs = sys.argv[1], torch.device(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(1)
kw = {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}
train = torch.utils.data.DataLoader(datasets.MNIST(root, train=True, transform=transforms.ToTensor()),
                                    batch_size=128, shuffle=True, **kw)
test = torch.utils.data.DataLoader(datasets.MNIST(root, train=False, transform=transforms.ToTensor()),
                                   batch_size=128, **kw)
model = VAE().to(device)
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
for epoch in range(1, epochs + 1):
    model.train(); start = time.perf_counter()
    for x, _ in train:
        x = x.to(device)
        opt.zero_grad(); recon, mu, logvar = model(x); loss_function(recon, x, mu, logvar).backward(); opt.step()
    seconds = time.perf_counter() - start
    model.eval(); total = 0.0
    with torch.no_grad():
        for x, _ in test:
            x = x.to(device); recon, mu, logvar = model(x); total += loss_function(recon, x, mu, logvar).item()
    print(json.dumps({"epoch": epoch, "test_loss": total / len(test.dataset), "epoch_s": seconds}), flush=True)
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--epochs", type=int, default=2, help="epochs for both loops (default: 2)")
    parser.add_argument("--batch-size", type=int, default=None,
                        help="batch size for digittui (default: its default, 128, the baseline's)")
    parser.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the baseline loop (default: on)")
    args = parser.parse_args()
    root = os.environ.get("DIGITTUI_DATA", "../shared/data")
    env = dict(os.environ, DIGITTUI_DATA=root, PYTHONUNBUFFERED="1")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "digittui", "train", "vae", "--json", "--device", args.device,
               "--epochs", str(args.epochs), "--output", os.path.join(tmp, "vae.pt")]
        if args.batch_size:
            cmd += ["--batch-size", str(args.batch_size)]
        ours, _ = timed_lines(cmd, env)
    ours_epoch = [60_000 / d["images_per_s"] for _, d in ours]
    result = {
        "benchmark": "train_vae", "device": args.device, "epochs": args.epochs, "batch_size": args.batch_size or 128,
        "digittui": {"epoch_s": [round(s, 2) for s in ours_epoch],
                     "test_loss": [round(d["test_loss"], 2) for _, d in ours]},
    }
    if args.baseline:
        base, _ = timed_lines([sys.executable, "-c", BASELINE, root, args.device, str(args.epochs)], env)
        base_epoch = [d["epoch_s"] for _, d in base]
        result["baseline_pytorch_examples"] = {"epoch_s": [round(s, 2) for s in base_epoch],
                                               "test_loss": [round(d["test_loss"], 2) for _, d in base]}
        result["epoch_time_ratio"] = round(sum(base_epoch) / sum(ours_epoch), 2)
        result["test_loss_difference"] = round(base[-1][1]["test_loss"] - ours[-1][1]["test_loss"], 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
