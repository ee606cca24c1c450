"""Why FIDs computed like the 2024 challenge script are not comparable with the standard FID (docs/evaluate.md).

Usage: .venv/bin/python bench/fid_comparability.py [--n 100] [--size 128]

Three image sets of `--n` images each: two independent GI-sim samples (seeds 0 and 1) and images rendered by
the tiny-random Stable Diffusion pipeline (random weights: structured noise) on development prompts. For the
pairs (GI-sim 0, GI-sim 1) and (GI-sim 0, tiny-random) it prints the Fréchet distance of these feature variants:

- standard:          2048-d InceptionV3 pool features after the one resize path (PIL bicubic to 299×299)
- np.resize:         the same features after `np.resize(pixels, (299, 299, 3))`, as the 2024 script resized:
                     it repeats or truncates the flat pixel array (no interpolation)
- softmax proxy T:   a stand-in for Keras InceptionV3's 1008/1000-d softmax output, which is not available
                     offline: softmax(T · f · W / sqrt(2048)) of the standard pool features f, with W a fixed
                     seeded Gaussian 2048×1008 projection, for each T in `--temperatures` (larger T: more
                     saturated probabilities; the mean top-class probability is printed)
- softmax proxy T + np.resize: the proxy on the np.resize features, the closest stand-in for the 2024 pipeline

The proxy is not Keras' classifier; it shows what any probability-vector feature does to a Fréchet distance.
For features p with p ≥ 0 and Σ p = 1, FID ≤ E‖p‖² + E‖q‖² − 2 μ_p·μ_q ≤ 2 (drop the −2 tr√(Σ_p Σ_q) term and
expand the traces; up to the factor n/(n−1) of the unbiased covariance), so such FIDs live in [0, 2] whatever
the images, and mostly far below 1. All sets have equal n, so FID's small-sample bias is the same in every column.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROXY_CLASSES = 1008


def gi_sim_set(seed: int, n: int, size: int) -> list:
    from promptopt.sim import SimConfig, simulate

    return [simulate(seed, i, size, SimConfig())[0] for i in range(n)]


def challenge_prompts(n: int) -> list[str]:
    """The n most frequent development prompts, cycled: text for the tiny-random pipeline to render."""
    import csv
    from importlib.resources import files

    rows = list(csv.DictReader(files("promptopt").joinpath("data/medvqa-gi-2024-prompts.csv").open(encoding="utf-8")))
    ranked = [r["prompt"] for r in sorted(rows, key=lambda r: -int(r["count"]))]
    return [ranked[i % len(ranked)] for i in range(n)]


def tiny_random_set(prompts: list[str], size: int) -> list:
    from promptopt.core.libraries import quiet_libraries
    from promptopt.core.paths import cache_dir
    from promptopt.generators.base import GeneratorConfig
    from promptopt.generators.diffusers_generator import load_generator

    quiet_libraries()
    cfg = GeneratorConfig(model="tiny-random", height=size, width=size, device="cpu")
    generator = load_generator(cfg, cache_dir=cache_dir())
    return generator.render(prompts, list(range(len(prompts))), guidance_scale=3.0, steps=4)


def np_resize_pixels(images: list) -> np.ndarray:
    """What the 2024 script fed the network: np.resize of each image's pixel array to 299×299×3."""
    return np.stack([np.resize(np.asarray(im.convert("RGB")), (299, 299, 3)) for im in images])


def softmax_proxy(features: np.ndarray, temperature: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    w = rng.normal(size=(features.shape[1], PROXY_CLASSES)) / np.sqrt(features.shape[1])
    logits = features @ w * temperature
    logits -= logits.max(axis=1, keepdims=True)
    e = np.exp(logits)
    return e / e.sum(axis=1, keepdims=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--temperatures", default="5,20", help="comma-separated softmax temperatures of the proxy")
    args = parser.parse_args()

    from promptopt.core.images import stack
    from promptopt.scorers.inception import INPUT_SIZE, InceptionFeatures
    from promptopt.scorers.realism_metrics import frechet_distance_features

    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("PROMPTOPT_CACHE", str(Path(tmp) / "cache"))
        sim0, sim1 = gi_sim_set(0, args.n, args.size), gi_sim_set(1, args.n, args.size)
        noise = tiny_random_set(challenge_prompts(args.n), args.size)
    inception = InceptionFeatures()
    sets = {"GI-sim 0": sim0, "GI-sim 1": sim1, "tiny-random": noise}
    standard = {k: inception.from_uint8(stack(v, INPUT_SIZE)) for k, v in sets.items()}
    tiled = {k: inception.from_uint8(np_resize_pixels(v)) for k, v in sets.items()}
    temperatures = [float(t) for t in args.temperatures.split(",")]

    def proxy(feats: dict, temperature: float) -> dict:
        return {k: softmax_proxy(v, temperature) for k, v in feats.items()}

    variants = {"standard (2048-d)": standard, "np.resize (2048-d)": tiled}
    for t in temperatures:
        variants[f"softmax proxy T={t:g} ({PROXY_CLASSES}-d)"] = proxy(standard, t)
    for t in temperatures:
        variants[f"softmax proxy T={t:g} + np.resize ({PROXY_CLASSES}-d)"] = proxy(tiled, t)
    print(
        f"n = {args.n} images per set, GI-sim at {args.size}x{args.size}, tiny-random at {args.size}x{args.size} "
        f"(4 steps); {time.perf_counter() - start:.0f} s"
    )
    print()
    print("| features | GI-sim 0 vs GI-sim 1 | GI-sim 0 vs tiny-random |")
    print("|---|---|---|")
    for name, feats in variants.items():
        same = frechet_distance_features(feats["GI-sim 0"], feats["GI-sim 1"])
        other = frechet_distance_features(feats["GI-sim 0"], feats["tiny-random"])
        print(f"| {name} | {same:.4g} | {other:.4g} |")
    print()
    for t in temperatures:
        probs = variants[f"softmax proxy T={t:g} ({PROXY_CLASSES}-d)"]
        top = {k: float(v.max(axis=1).mean()) for k, v in probs.items()}
        print(f"mean top-class probability, proxy T={t:g}: " + ", ".join(f"{k} {v:.2f}" for k, v in top.items()))


if __name__ == "__main__":
    main()
