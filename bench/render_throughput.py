"""Images/s of `promptopt render`'s code path against a bare diffusers pipeline call (target ratio >= 0.95).

Usage: .venv/bin/python bench/render_throughput.py [--model tiny-random] [--size 32] [--steps 4] [--batch 4]
       [--n 16] [--device auto] [--dtype auto] [--repeats 3] [--threads 0]
Both sides render the same prompts (the first --n development prompts) on the same seeds in batches of --batch
with the same loaded pipeline, in this process. The render path is `promptopt.render.imagefolder.render_folder` (settings
check, resume bookkeeping, PNG + metadata writes on its writer thread, included in its time); the bare path is
`pipe(prompts, generator=[one CPU torch.Generator per image], ...)` returning PIL images. The runs alternate,
after one warm-up batch, and the median of --repeats runs is reported, in wall time and in the process's CPU time
(all threads; steadier than wall time on a shared CPU). On a CPU shared with other jobs, --threads 1 keeps
torch's idle worker threads from spinning, which otherwise dominates both measures. Example on a GPU at SD size:
  bench/render_throughput.py --model /models/sd15 --size 512 --steps 25 --batch 8 --n 64 --device cuda
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import tempfile
import time
from importlib import resources
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from promptopt.core.libraries import quiet_libraries  # noqa: E402
from promptopt.datasets.prompt_files import PromptSpec, resolve_prompts  # noqa: E402
from promptopt.generators.base import GeneratorConfig  # noqa: E402
from promptopt.render.imagefolder import RenderJob, image_name, image_seed, render_folder  # noqa: E402
from promptopt.study.factory import generator_for  # noqa: E402

GUIDANCE = 7.5


def development_prompts(n: int) -> list[str]:
    with resources.files("promptopt").joinpath("data/medvqa-gi-2024-prompts.csv").open(encoding="utf-8") as fh:
        return [row["prompt"] for row, _ in zip(csv.DictReader(fh), range(n))]


def bare(pipe, prompts: list[str], seeds: list[int], args: argparse.Namespace) -> list[Image.Image]:
    import torch

    images = []
    for start in range(0, len(prompts), args.batch):
        generators = [torch.Generator("cpu").manual_seed(s) for s in seeds[start : start + args.batch]]
        with torch.inference_mode():
            out = pipe(
                prompts[start : start + args.batch],
                guidance_scale=GUIDANCE,
                num_inference_steps=args.steps,
                height=args.size,
                width=args.size,
                generator=generators,
                output_type="pil",
            )
        images += out.images
    return images


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


class TimedGenerator:
    """The loaded generator, adding up the wall time spent inside its render calls (the rest of render_folder's
    time is its own: settings check, resume bookkeeping, waiting for the writer thread)."""

    def __init__(self, inner) -> None:
        self.inner, self.identity, self.seconds = inner, inner.identity, 0.0

    def render(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.inner.render(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=GeneratorConfig.model)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)

    quiet_libraries()
    cfg = GeneratorConfig(
        model=args.model, height=args.size, width=args.size, device=args.device, dtype=args.dtype, batch_size=args.batch
    )
    generator = generator_for(cfg)
    prompts = development_prompts(args.n)
    specs = resolve_prompts(
        tuple(PromptSpec(p) for p in prompts), negative_prompt=None, guidance_scale=GUIDANCE, steps=args.steps
    )
    job = RenderJob(specs, 1, 0, cfg)
    seeds = [image_seed(0, i, 0) for i in range(len(prompts))]
    bare(generator.pipe, prompts[: args.batch], seeds[: args.batch], args)  # warm-up

    bare_s, render_s, bare_cpu, render_cpu, outside = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            reference = bare(generator.pipe, prompts, seeds, args)
            bare_s.append(time.perf_counter() - t0)
            bare_cpu.append(time.process_time() - c0)
            out = Path(tmp) / f"run{r}"
            timed = TimedGenerator(generator)
            t0, c0 = time.perf_counter(), time.process_time()
            render_folder(job, out, timed)
            render_s.append(time.perf_counter() - t0)
            render_cpu.append(time.process_time() - c0)
            outside.append(render_s[-1] - timed.seconds)
        written = np.asarray(Image.open(out / image_name(0, 0)).convert("RGB"), dtype=np.int16)
        same = int(np.abs(written - np.asarray(reference[0], dtype=np.int16)).max())

    n = len(prompts)
    bare_ips, render_ips = n / statistics.median(bare_s), n / statistics.median(render_s)
    print(
        f"model {args.model} ({generator.identity['pipeline']}), {args.size}x{args.size}, {args.steps} steps, "
        f"batch {args.batch}, {n} images, {generator.device} {generator.identity['dtype']}, median of {args.repeats}, "
        f"{torch_threads()} torch threads"
    )
    print(f"bare pipeline call: {bare_ips:.3f} images/s  (runs: {', '.join(f'{s:.2f}' for s in bare_s)} s)")
    print(f"promptopt render:   {render_ips:.3f} images/s  (runs: {', '.join(f'{s:.2f}' for s in render_s)} s)")
    print(f"ratio render / bare: {render_ips / bare_ips:.3f} (target >= 0.95); first image max pixel difference {same}")
    # on a shared CPU, wall time swings with other load; CPU time (all threads of this process) does not
    cpu_ratio = statistics.median(bare_cpu) / statistics.median(render_cpu)
    print(
        f"process CPU time: bare {statistics.median(bare_cpu):.2f} s, render {statistics.median(render_cpu):.2f} s, "
        f"ratio bare / render {cpu_ratio:.3f}"
    )
    share = statistics.median(o / t for o, t in zip(outside, render_s))
    print(
        f"render path outside generator.render: median {statistics.median(outside) * 1000:.0f} ms per run, "
        f"{share:.1%} of its wall time"
    )


if __name__ == "__main__":
    main()
