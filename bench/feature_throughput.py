"""Inception feature throughput against torchmetrics, and the speed-up of a cached `promptopt evaluate`.

Usage: .venv/bin/python bench/feature_throughput.py [--n 64] [--repeats 5] [--threads 1] [--reference-n 1000]
       [--generated-n 50] [--skip-throughput] [--skip-evaluation]

1. images/s of `InceptionFeatures.from_uint8` and of torchmetrics' `FrechetInceptionDistance.update` with the
   same TorchScript network as its `feature=` module (same input mapping x / 128 - 1, same mean-pooling, same
   batch size), on the same uint8 299×299 GI-sim images, after two warm-up batches each (TorchScript optimises on
   its first calls). Runs alternate which goes first; the median of `--repeats` counts, in wall time and in
   process CPU time (on a shared machine the wall time of one run swings by 2×). Also images/s of the resize
   path alone (PIL images to uint8 299×299), which `InceptionFeatures(images)` adds.
2. wall time of the library path of `promptopt evaluate` (`promptopt.evaluate.sets.evaluate`, all default metrics)
   on `--generated-n` GI-sim images against `--reference-n` reference images: the first evaluation computes
   and caches the reference features, the second reads them from the cache. Models are loaded once before
   both (their load time is printed separately); the sizes are chosen so that the reference side dominates.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def gi_sim(seed: int, n: int, size: int) -> list:
    from promptopt.sim import SimConfig, simulate

    return [simulate(seed, i, size, SimConfig())[0] for i in range(n)]


def throughput(n: int, size: int, repeats: int, threads: int) -> None:
    import torch
    from torchmetrics.image.fid import FrechetInceptionDistance

    from promptopt.core.images import stack
    from promptopt.scorers.inception import INPUT_SIZE, InceptionFeatures

    default_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    images = gi_sim(0, n, size)
    pixels = stack(images, INPUT_SIZE)
    ours = InceptionFeatures()

    class SameNetwork(torch.nn.Module):
        """The bundled TorchScript network as torchmetrics' feature module, with InceptionFeatures' mapping."""

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            feats = ours.model(x.float() / 128.0 - 1.0)
            return feats.mean(dim=tuple(range(2, feats.ndim))) if feats.ndim > 2 else feats

    step = ours.batch_size
    batches = [torch.from_numpy(pixels[i : i + step]).permute(0, 3, 1, 2) for i in range(0, n, step)]

    def run_ours() -> None:
        ours.from_uint8(pixels)

    def run_torchmetrics() -> None:
        metric = FrechetInceptionDistance(feature=SameNetwork(), reset_real_features=False)
        with torch.inference_mode():
            for batch in batches:
                metric.update(batch, real=False)

    with torch.inference_mode():  # warm-up under the timed grad mode: TorchScript optimises on its first runs
        for _ in range(2):
            ours.from_uint8(pixels[:step])
            FrechetInceptionDistance(feature=SameNetwork()).update(batches[0], real=False)
    wall: dict[str, list[float]] = {"ours": [], "torchmetrics": []}
    cpu: dict[str, list[float]] = {"ours": [], "torchmetrics": []}
    for i in range(repeats):
        order = (("ours", run_ours), ("torchmetrics", run_torchmetrics))
        for name, run in order if i % 2 == 0 else order[::-1]:  # alternate who goes first
            start, start_cpu = time.perf_counter(), time.process_time()
            run()
            wall[name].append(time.perf_counter() - start)
            cpu[name].append(time.process_time() - start_cpu)
    start = time.perf_counter()
    stack(images, INPUT_SIZE)
    resize_s = time.perf_counter() - start
    rate = {k: n / statistics.median(v) for k, v in wall.items()}
    cpu_ratio = statistics.median(cpu["torchmetrics"]) / statistics.median(cpu["ours"])
    print(
        f"{n} GI-sim images {size}x{size} -> 299x299, batch {ours.batch_size}, {torch.get_num_threads()} torch "
        f"thread(s), median of {repeats} interleaved runs"
    )
    print(f"  InceptionFeatures.from_uint8            {rate['ours']:7.2f} images/s")
    print(f"  torchmetrics FrechetInceptionDistance   {rate['torchmetrics']:7.2f} images/s (same network)")
    print(f"  ratio (ours / torchmetrics)             {rate['ours'] / rate['torchmetrics']:7.3f}  (target >= 1.0)")
    print(f"  ratio in process CPU time               {cpu_ratio:7.3f}")
    print(f"  the resize path alone (PIL bicubic)     {n / resize_s:7.0f} images/s")
    torch.set_num_threads(default_threads)  # the evaluation below runs with torch's default


def cached_evaluation(reference_n: int, generated_n: int, size: int) -> None:
    from promptopt.evaluate.sets import EvaluateConfig, evaluate, load_models

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ["PROMPTOPT_CACHE"] = str(root / "cache")
        for folder, seed, n in (("reference", 1, reference_n), ("generated", 2, generated_n)):
            (root / folder).mkdir()
            for i, image in enumerate(gi_sim(seed, n, size)):
                image.save(root / folder / f"{i:05d}.png")
        cfg = EvaluateConfig(generated=root / "generated", reference=root / "reference")
        start = time.perf_counter()
        models = load_models(cfg, with_clip=False)
        load_s = time.perf_counter() - start
        seconds = []
        for _ in range(2):
            start = time.perf_counter()
            result = evaluate(cfg, models=models)
            seconds.append(time.perf_counter() - start)
    first, second = seconds
    print(
        f"evaluate: {generated_n} generated vs {reference_n} reference GI-sim images {size}x{size}, metrics "
        f"{','.join(cfg.metrics)}; reference cached on the second run: {result.reference_cached}"
    )
    print(f"  model loading (once, not in either time) {load_s:7.2f} s")
    print(f"  first evaluation (reference computed)    {first:7.2f} s")
    print(f"  second evaluation (reference cached)     {second:7.2f} s")
    print(f"  speed-up                                 {first / second:7.2f}x  (target >= 10x)")
    print(f"  speed-up with model loading in both      {(first + load_s) / (second + load_s):7.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="images for the throughput comparison")
    parser.add_argument("--size", type=int, default=64, help="GI-sim image size")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (idle ones spin on a shared CPU)")
    parser.add_argument("--reference-n", type=int, default=1000)
    parser.add_argument("--generated-n", type=int, default=50)
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument("--skip-evaluation", action="store_true")
    args = parser.parse_args()
    if not args.skip_throughput:
        throughput(args.n, args.size, args.repeats, args.threads)
    if not args.skip_evaluation:
        cached_evaluation(args.reference_n, args.generated_n, args.size)


if __name__ == "__main__":
    main()
