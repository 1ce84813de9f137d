"""A training step's forward and backward, captured once as a CUDA graph and replayed every step.

Why: these models are small, so on a GPU an eager step is launch-bound: the host-side cost of its
kernel launches exceeds the arithmetic, and one graph replay costs one launch (the figures are in
benchmarks/RESULTS.md, from benchmarks/step_cost.py). The optimizer, the learning-rate
schedule and the weight average stay eager (a few launches): the schedule changes Adam's lr and
momentum every step, and a graph would freeze those numbers at their values during capture.

How (PyTorch's CUDA graph recipe): the first WARMUP steps run eagerly on a side stream, which lets
cuDNN pick its kernels and the allocator settle; the next call captures the forward, the loss and
the backward on static input tensors, with the gradients living in the graph's memory, then every
call copies its batch into those tensors and replays. The steps are ordinary training steps (none
is repeated or skipped), dropout and VAE noise come from the default CUDA generator, which graphs
advance correctly, and `torch.manual_seed` between epochs still takes effect.
"""

from __future__ import annotations

import warnings
from typing import Callable

import torch

WARMUP = 3  # eager steps before the capture, as PyTorch's recipe does

LossFn = Callable[[torch.nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


class GraphedStep:
    """Call with a batch (x, y) on the GPU: computes the loss and fills every parameter's .grad;
    returns the loss (a tensor that the next call overwrites). The caller steps the optimizer and
    must not zero or replace the gradients afterwards: after the capture they are the graph's."""

    def __init__(self, loss_fn: LossFn, model: torch.nn.Module, use_amp: bool) -> None:
        self.loss_fn, self.model, self.use_amp = loss_fn, model, use_amp
        self.calls = 0
        self.side = torch.cuda.Stream()
        self.graph: torch.cuda.CUDAGraph | None = None
        self.failed = False  # the capture failed: every step runs eagerly
        self.static_x = self.static_y = self.static_loss = None

    def _forward_backward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # cache_enabled=False: autocast's cast cache cannot live across graph replays
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.use_amp, cache_enabled=False):
            loss = self.loss_fn(self.model, x, y)
        loss.backward()
        return loss.detach()

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.graph is not None:
            self.static_x.copy_(x)
            self.static_y.copy_(y)
            self.graph.replay()
            return self.static_loss
        self.model.zero_grad(set_to_none=True)
        if self.failed:
            return self._forward_backward(x, y)
        if self.calls <= WARMUP:
            self.side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(self.side):
                loss = self._forward_backward(x, y)
            torch.cuda.current_stream().wait_stream(self.side)
            return loss
        self.static_x, self.static_y = x.clone(), y.clone()
        graph = torch.cuda.CUDAGraph()
        try:
            # thread_local: CUDA work of other threads (the TUI generating on the GPU, say) during
            # the capture neither breaks it nor gets recorded into it
            with torch.cuda.graph(graph, capture_error_mode="thread_local"):  # records, does not run
                self.static_loss = self._forward_backward(self.static_x, self.static_y)
        except RuntimeError as exc:  # an op that cannot be captured: slower, but training goes on
            warnings.warn(f"CUDA graph capture failed, training on without it: {exc}", stacklevel=2)
            self.failed = True
            self.model.zero_grad(set_to_none=True)
            return self._forward_backward(x, y)
        self.graph = graph
        graph.replay()
        return self.static_loss
