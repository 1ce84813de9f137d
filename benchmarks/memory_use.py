"""Peak memory per item of the commands whose counts digittui limits (digittui/limits.py).

Each command runs twice in a fresh process, with a small and a large count; the growth of its peak
resident memory between the two, divided by the growth of the count, is the memory one more item
costs. Printed as one JSON line per case; limits.py rounds these up.

    python benchmarks/memory_use.py            # about 5 minutes on 2 CPU cores
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def peak_rss(args: list[str], env: dict) -> int:
    """Peak resident memory in bytes of `digittui ARGS` run to its end."""
    proc = subprocess.Popen([sys.executable, "-m", "digittui", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{args} failed: {proc.stderr.read().decode()[-500:]}")
    return usage.ru_maxrss * 1024  # Linux reports kB


def slope(name: str, build, small: int, large: int, env: dict, items=lambda n: n) -> dict:
    low, high = peak_rss(build(small), env), peak_rss(build(large), env)
    per_item = (high - low) / (items(large) - items(small))
    result = {"case": name, "small": small, "large": large, "peak_small_mb": round(low / 1e6, 1),
              "peak_large_mb": round(high / 1e6, 1), "bytes_per_item": round(per_item)}
    print(json.dumps(result), flush=True)
    return result


def main() -> None:
    from tests.mnist_files import make_mnist

    work = Path(tempfile.mkdtemp(prefix="memory_use-"))
    data = make_mnist(work / "data", n_train=4096, n_test=64)
    env = dict(os.environ, DIGITTUI_HOME=str(work / "home"), DIGITTUI_EXPORTS=str(work / "exports"),
               DIGITTUI_DATA=str(data), PYTHONPATH=str(REPO))
    cpu = ["--device", "cpu"]
    slope("generate sample", lambda n: ["generate", "7", "--count", str(n), *cpu], 100, 400, env)
    slope("generate sample + png", lambda n: ["generate", "7", "--count", str(n), *cpu, "--overwrite",
                                              "--output", str(work / "g.png")], 100, 400, env)
    slope("explore sample (decode + png)", lambda n: ["explore", "sample", "-n", str(n), *cpu, "--overwrite",
                                                      "-o", str(work / "s.png")], 250, 1000, env)
    slope("latent-map grid image (decode)", lambda n: ["explore", "latent-map", "--grid", str(n), "--points",
                                                       "64", *cpu, "--overwrite", "-o", str(work / "m.png")],
          20, 60, env, items=lambda n: n * n)
    for kind in ("cnn", "vae"):
        slope(f"train {kind} batch image", lambda n: ["train", kind, "--epochs", "1", "--batch-size", str(n),
                                                      *cpu, "-o", str(work / f"{kind}.pt")], 256, 2048, env)


if __name__ == "__main__":
    main()
