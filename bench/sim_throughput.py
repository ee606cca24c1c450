"""GI-sim throughput on one CPU core, writing included: `python bench/sim_throughput.py [--n 2000] [--size 128]`.

Runs `promptopt data sim` in-process into a temporary folder, pinned to one core where the OS allows,
with numpy's thread pools limited to one thread, and prints images per second.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    from promptopt.sim.writer import write_dataset

    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        written = write_dataset(Path(tmp) / "gi-sim", args.n, args.size, args.seed)
        seconds = time.perf_counter() - start
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    print(
        f"GI-sim: {written.images} images of {args.size}x{args.size} and {written.prompts} prompts written "
        f"in {seconds:.1f} s on {cores} core(s): {written.images / seconds:.1f} images/s"
    )


if __name__ == "__main__":
    main()
