"""Where one CNN training step's time goes: each part of the step timed alone, on one device.

The GPU loop is launch-bound (a step of this small CNN is a few microseconds of arithmetic), so
what matters is the host's cost per step. Times, in ms per step (median of 5 rounds of 100 steps
after a warm-up, the device synchronised around each round):

    full       the step as digittui.train runs it: gather, bf16 autocast, forward, loss, backward,
               fused AdamW, one-cycle scheduler, loss accumulation
    fp32       the same without autocast
    no_sched   the full step without the scheduler
    fwd_bwd    forward, loss and backward only
    optimizer  the fused AdamW step only
    autocast   entering and leaving the autocast context only
    graph      the full step with its forward, loss and backward replayed as one CUDA graph
               (digittui/graphstep.py), as digittui.train runs it on CUDA (CUDA only)
    graph_all  the whole step, AdamW included, captured as one graph: the floor, not used, because
               a captured AdamW would freeze the one-cycle schedule's lr and momentum (CUDA only)

then the 15 operators with the most host time over 20 full steps (torch.profiler). Prints a table
and one JSON line.

    DIGITTUI_DATA=/path/to/data python benchmarks/step_cost.py [--device cuda] [--batch-size 128]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
import torch.nn.functional as F

from digittui.data import load_mnist
from digittui.device import describe, resolve
from digittui.graphstep import GraphedStep
from digittui.models import CNN
from digittui.paths import data_dir


def per_step_ms(body, device: torch.device, steps: int = 100, rounds: int = 5) -> float:
    for _ in range(10):
        body()
    times = []
    for _ in range(rounds):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            body()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append((time.perf_counter() - start) * 1000 / steps)
    return round(statistics.median(times), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    parser.add_argument("--batch-size", type=int, default=128, help="images per step (default: 128)")
    args = parser.parse_args()
    device = resolve(args.device, required=True).device
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    train = load_mnist(data_dir(None), train=True, device=device)
    b = args.batch_size
    model = CNN().to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, fused=device.type == "cuda")
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=1e-3, total_steps=10**6)
    running = torch.zeros((), device=device)
    amp = device.type == "cuda"
    order = torch.randperm(len(train), device=device)
    position = [0]

    def batch():
        start = position[0] = (position[0] + b) % (len(train) - b)
        index = order[start:start + b]
        return train.float_images(index), train.labels[index]

    def forward_backward(use_amp: bool):
        x, y = batch()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_amp):
            loss = F.cross_entropy(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        return loss

    def full(use_amp: bool = amp, sched: bool = True):
        loss = forward_backward(use_amp)
        optimizer.step()
        if sched:
            scheduler.step()
        running.add_(loss.detach())

    def autocast_only():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            pass

    out = {"benchmark": "step_cost", "device": describe(device), "batch_size": b,
           "full": per_step_ms(full, device),
           "fp32": per_step_ms(lambda: full(use_amp=False), device),
           "no_sched": per_step_ms(lambda: full(sched=False), device),
           "fwd_bwd": per_step_ms(lambda: forward_backward(amp), device),
           "optimizer": per_step_ms(optimizer.step, device),
           "autocast": per_step_ms(autocast_only, device)}
    python_start = time.perf_counter()
    sum(range(3_000_000))
    out["python_sum_3M_ms"] = round((time.perf_counter() - python_start) * 1000, 1)

    if device.type == "cuda":
        graphed = GraphedStep(lambda m, x, y: F.cross_entropy(m(x).float(), y), model, use_amp=True)

        def graph_step():
            x, y = batch()
            loss = graphed(x, y)
            optimizer.step()
            scheduler.step()
            running.add_(loss)

        out["graph"] = per_step_ms(graph_step, device)
        out["graph_all"] = whole_step_graph_ms(train, b, device)

    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(20):
            full()
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=15)
    print(table)
    print(json.dumps(out))


def whole_step_graph_ms(train, b: int, device: torch.device) -> float | str:
    """The whole step captured as one CUDA graph (PyTorch's "whole network capture" recipe)."""
    try:
        model = CNN().to(device).train()
        optimizer = torch.optim.AdamW(model.parameters(), lr=torch.tensor(1e-3, device=device),
                                      capturable=True, foreach=True)
        static_x = train.float_images(slice(0, b)).clone()
        static_y = train.labels[:b].clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up on a side stream, as the recipe asks
            for _ in range(3):
                optimizer.zero_grad(set_to_none=True)
                with torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False):
                    loss = F.cross_entropy(model(static_x).float(), static_y)
                loss.backward()
                optimizer.step()
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        optimizer.zero_grad(set_to_none=True)
        with torch.cuda.graph(graph):
            with torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False):
                static_loss = F.cross_entropy(model(static_x).float(), static_y)
            static_loss.backward()
            optimizer.step()
        order = torch.randperm(len(train), device=device)
        position = [0]

        def step():
            start = position[0] = (position[0] + b) % (len(train) - b)
            index = order[start:start + b]
            static_x.copy_(train.float_images(index))
            static_y.copy_(train.labels[index])
            graph.replay()

        return per_step_ms(step, device)
    except Exception as exc:  # report, don't hide the other figures
        return f"failed: {type(exc).__name__}: {exc}"


if __name__ == "__main__":
    main()
