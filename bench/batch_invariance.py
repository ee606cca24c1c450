"""How far an image moves when it is rendered in another batch: same prompt, seed and model, other neighbours.

Usage: .venv/bin/python bench/batch_invariance.py [--model gi-sim-tiny] [--size 32] [--steps 4] [--n 4]
       [--batches 3 2] [--threads 0]
Renders the same --n images (one prompt, seeds 0..n-1, one torch.Generator per image) once per batch size in
--batches and prints, per image, the largest difference of a pixel value (0-255) from the first batch size's
render and the share of values that differ. The seeds fix each image's noise whatever the batch; the remaining
differences come from batched floating-point arithmetic (kernels pick other blockings for other batch shapes).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="gi-sim-tiny")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--batches", type=int, nargs="+", default=[3, 2])
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()

    import torch

    from promptopt.core.libraries import quiet_libraries
    from promptopt.core.paths import cache_dir
    from promptopt.generators.base import GeneratorConfig
    from promptopt.generators.diffusers_generator import load_generator

    if args.threads:
        torch.set_num_threads(args.threads)
    quiet_libraries()
    prompts, seeds = ["Generate an image containing a polyp."] * args.n, list(range(args.n))
    renders = []
    for batch in args.batches:
        cfg = GeneratorConfig(model=args.model, device="cpu", height=args.size, width=args.size, batch_size=batch)
        generator = load_generator(cfg, cache_dir=cache_dir())
        images = generator.render(prompts, seeds, guidance_scale=7.5, steps=args.steps)
        renders.append([np.asarray(image, dtype=np.int16) for image in images])
    print(f"{args.model} {args.size}x{args.size}, {args.steps} steps, {torch.get_num_threads()} threads")
    for batch, images in zip(args.batches[1:], renders[1:]):
        diffs = [np.abs(a - b) for a, b in zip(renders[0], images)]
        print(
            f"batch {args.batches[0]} vs {batch}: max |difference| per image {[int(d.max()) for d in diffs]}, "
            f"share of differing values {[round(float((d > 0).mean()), 5) for d in diffs]}"
        )


if __name__ == "__main__":
    main()
