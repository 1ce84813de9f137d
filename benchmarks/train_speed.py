"""CNN training speed: `digittui train cnn` (defaults) vs a loop written like pytorch/examples' mnist,
and between the two, digittui's own model and recipe fed by that DataLoader loop.

Prints one JSON line: for each loop, wall seconds to reach 99.0% (and 99.5%) test accuracy from
process start (torch import and data loading included), the same counted from the first training
step (`train_seconds_to_*`: steps, test passes and checkpoint saves only), training images/s, and
the ratios.

    DIGITTUI_DATA=../shared/data python benchmarks/train_speed.py [--device cpu] [--baseline-epochs 3]
    DIGITTUI_DATA=... python benchmarks/train_speed.py --device cuda --batch-size 512 --lr 8e-3 --baseline-epochs 0

The baseline is pytorch/examples mnist/main.py as published: its Net (two convs, dropout, 9216->128
FC), Adadelta lr 1.0 with StepLR(gamma 0.7), batch 64, torchvision transforms per sample through a
DataLoader, a test pass after every epoch. It runs in a subprocess too, so both pay the same imports.

The middle loop (`digittui_model_dataloader`) changes one thing against digittui: the data path. It
trains digittui's CNN with digittui's recipe (AdamW, one-cycle schedule, the same epochs, batch size
and peak lr; bf16 autocast on CUDA) on batches from that DataLoader (ToTensor per sample) instead of
index gathers from a resident uint8 tensor, with no CUDA graph. So baseline -> middle is what the
model and recipe buy, middle -> digittui what the data path (and on CUDA the graph step) buys.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

BASELINE = r'''
import json, sys, time
t0 = time.perf_counter()
import torch, torch.nn as nn, torch.nn.functional as F
from torchvision import datasets, transforms

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)
    def forward(self, x):
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.max_pool2d(x, 2)
        x = torch.flatten(self.dropout1(x), 1)
        x = self.dropout2(F.relu(self.fc1(x)))
        return F.log_softmax(self.fc2(x), dim=1)

root, device, epochs = sys.argv[1], torch.device(sys.argv[2]), int(sys.argv[3])
torch.manual_seed(1)
tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
kw = {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}
train = torch.utils.data.DataLoader(datasets.MNIST(root, train=True, transform=tf), batch_size=64, shuffle=True, **kw)
test = torch.utils.data.DataLoader(datasets.MNIST(root, train=False, transform=tf), batch_size=1000, **kw)
model = Net().to(device)
opt = torch.optim.Adadelta(model.parameters(), lr=1.0)
sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.7)
train_start = time.perf_counter()
for epoch in range(1, epochs + 1):
    model.train(); start = time.perf_counter()
    for x, y in train:
        x, y = x.to(device), y.to(device)
        opt.zero_grad(); F.nll_loss(model(x), y).backward(); opt.step()
    rate = len(train.dataset) / (time.perf_counter() - start)
    model.eval(); correct = 0
    with torch.no_grad():
        for x, y in test:
            correct += (model(x.to(device)).argmax(1) == y.to(device)).sum().item()
    sched.step()
    print(json.dumps({"epoch": epoch, "test_accuracy": correct / len(test.dataset), "images_per_s": rate,
                      "train_s": time.perf_counter() - train_start}), flush=True)
    if correct / len(test.dataset) >= 0.995:
        break
'''

OURS_ON_DATALOADER = r'''
import json, sys, time
t0 = time.perf_counter()
import torch, torch.nn.functional as F
from torchvision import datasets, transforms
from digittui.models import CNN

root, device = sys.argv[1], torch.device(sys.argv[2])
epochs, batch, lr = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
torch.manual_seed(1)
kw = {"num_workers": 1, "pin_memory": True} if device.type == "cuda" else {}
train = torch.utils.data.DataLoader(datasets.MNIST(root, train=True, transform=transforms.ToTensor()),
                                    batch_size=batch, shuffle=True, **kw)
test = torch.utils.data.DataLoader(datasets.MNIST(root, train=False, transform=transforms.ToTensor()),
                                   batch_size=1000, **kw)
model = CNN().to(device)
opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0, fused=device.type == "cuda")
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * len(train), pct_start=0.25)
amp = device.type == "cuda"
train_start = time.perf_counter()
for epoch in range(1, epochs + 1):
    model.train(); start = time.perf_counter()
    for x, y in train:
        x, y = x.to(device), y.to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step(); sched.step()
    rate = len(train.dataset) / (time.perf_counter() - start)
    model.eval(); correct = 0
    with torch.no_grad():
        for x, y in test:
            correct += (model(x.to(device)).argmax(1) == y.to(device)).sum().item()
    print(json.dumps({"epoch": epoch, "test_accuracy": correct / len(test.dataset), "images_per_s": rate,
                      "train_s": time.perf_counter() - train_start}), flush=True)
'''


def timed_lines(cmd: list[str], env: dict) -> tuple[list[tuple[float, dict]], float]:
    """Run cmd, return (seconds since launch, parsed JSON) for each JSON line it prints, and total wall."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
    lines = []
    for line in proc.stdout:
        if line.startswith("{"):
            lines.append((time.perf_counter() - start, json.loads(line)))
    if proc.wait() != 0:
        raise SystemExit(f"{cmd[:4]} failed with exit code {proc.returncode}")
    return lines, time.perf_counter() - start


def summarize(lines: list[tuple[float, dict]]) -> dict:
    def first(threshold, clock=None):
        return next((round(d[clock] if clock else t, 2) for t, d in lines if d["test_accuracy"] >= threshold), None)

    return {
        "seconds_to_99.0": first(0.990), "seconds_to_99.5": first(0.995),
        "train_seconds_to_99.0": first(0.990, "train_s"), "train_seconds_to_99.5": first(0.995, "train_s"),
        "final_accuracy": lines[-1][1]["test_accuracy"] if lines else None,
        "epochs": len(lines),
        "images_per_s": round(sum(d["images_per_s"] for _, d in lines) / max(len(lines), 1), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--baseline-epochs", type=int, default=3,
                        help="most epochs for the baseline; it stops early at 99.5%%; 0 skips it (default: 3)")
    parser.add_argument("--epochs", type=int, default=None, help="epochs for digittui (default: its default)")
    parser.add_argument("--batch-size", type=int, default=None, help="batch size for digittui (default: its default)")
    parser.add_argument("--lr", type=float, default=None, help="peak learning rate for digittui (default: its default)")
    parser.add_argument("--dataloader-loop", action=argparse.BooleanOptionalAction, default=True,
                        help="also run digittui's model and recipe in the DataLoader loop (default: on)")
    args = parser.parse_args()
    root = os.environ.get("DIGITTUI_DATA", "../shared/data")
    env = dict(os.environ, DIGITTUI_DATA=root, PYTHONUNBUFFERED="1")
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "digittui", "train", "cnn", "--json", "--device", args.device,
               "--output", os.path.join(tmp, "cnn.pt")]
        for flag, value in (("--epochs", args.epochs), ("--batch-size", args.batch_size), ("--lr", args.lr)):
            if value:
                cmd += [flag, str(value)]
        ours, ours_wall = timed_lines(cmd, env)
        result = {"benchmark": "train_cnn", "device": args.device, "cpu_threads": os.cpu_count(),
                  "options": cmd[cmd.index("--output") + 2:],
                  "digittui": {**summarize(ours), "wall_s": round(ours_wall, 1)}}
        if args.dataloader_loop:
            from digittui.train import TrainConfig

            recipe = TrainConfig(kind="cnn", epochs=args.epochs or 0, batch_size=args.batch_size or 0,
                                 lr=args.lr or 0.0).resolved()
            mid, mid_wall = timed_lines([sys.executable, "-c", OURS_ON_DATALOADER, root, args.device,
                                         str(recipe.epochs), str(recipe.batch_size), str(recipe.lr)], env)
            result["digittui_model_dataloader"] = {**summarize(mid), "wall_s": round(mid_wall, 1)}
            result["data_path_throughput_ratio"] = round(
                result["digittui"]["images_per_s"] / max(result["digittui_model_dataloader"]["images_per_s"], 1e-9), 2)
        if not args.baseline_epochs:
            print(json.dumps(result))
            return
        base, base_wall = timed_lines([sys.executable, "-c", BASELINE, root, args.device,
                                       str(args.baseline_epochs)], env)
    result["baseline_pytorch_examples"] = {**summarize(base), "wall_s": round(base_wall, 1)}
    a, b = result["digittui"]["seconds_to_99.0"], result["baseline_pytorch_examples"]["seconds_to_99.0"]
    result["speedup_to_99.0"] = round(b / a, 2) if a and b else None
    if a and not b:  # the baseline never got there: its whole run bounds the speedup from below
        result["speedup_to_99.0_at_least"] = round(result["baseline_pytorch_examples"]["wall_s"] / a, 2)
    a, b = result["digittui"]["train_seconds_to_99.0"], result["baseline_pytorch_examples"]["train_seconds_to_99.0"]
    result["train_speedup_to_99.0"] = round(b / a, 2) if a and b else None
    result["throughput_ratio"] = round(result["digittui"]["images_per_s"]
                                       / max(result["baseline_pytorch_examples"]["images_per_s"], 1e-9), 2)
    if args.dataloader_loop:
        result["model_throughput_ratio"] = round(result["digittui_model_dataloader"]["images_per_s"]
                                                 / max(result["baseline_pytorch_examples"]["images_per_s"], 1e-9), 2)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
