"""The figures of gi-sim-tiny's model card (generators/gi-sim-tiny/README.md), measured on this machine.

Usage: .venv/bin/python bench/gi_sim_tiny_card.py [--model gi-sim-tiny]
       [--part all|response|conditioning|realism|speed|grid|features]
       [--n-response 64] [--n-realism 500] [--guidance 6.0] [--steps 20] [--threads 0] [--out DIR] [--json FILE]

- response: for polyp, instrument and box artefact, the shipped GI-sim judge's hit rate on --n-response
  images from the positive prompt and from the matching negative prompt, on the same seeds 0..n-1.
- realism: FID and KID (Inception pool features) against the held-out GI-sim set `promptopt evaluate` uses by
  default (500 images, 64x64, seed 20241) of (a) --n-realism images of the model, each from the prompts of one
  image of a second GI-sim sample (seed 2; 1 to 4 of its prompts joined, as in training), (b) the same with the
  model's UNet re-initialised at random (the pipeline before its UNet trained; the trained VAE kept), and
  (c) that second GI-sim sample itself (the floor).
- speed: seconds to load the model and to render 8 images at the default size and steps on this device.
- grid: --out/samples.png, one row per prompt of GRID_PROMPTS, 8 seeds each.
- conditioning: how much the prompt moves the model's clean-latent estimate x0 at each noise level: for each
  positive/negative pair above, the mean |x0(positive) - x0(negative)| over 8 pure-noise-like latents x_t (seeds
  0-7, x0 = 0) at timesteps 999, 900, 700, 500, 300. Where this is near 0 at high noise, the layout the text asks
  for (a box in the corner or none) is left to the noise.
- features: (not part of `all`) the Inception features of the GI-sim reference sets shipped in
  scorers/gi-sim/features/: 200 images per category at 64x64 (the studies' realism references) and the
  500-image held-out set, copied from the feature cache.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from promptopt.datasets.prompt_files import DEFAULT_GUIDANCE, DEFAULT_STEPS  # noqa: E402
from promptopt.generators.base import GeneratorConfig  # noqa: E402

RESPONSE_PAIRS = {  # judge output: (positive prompt, negative prompt), both challenge wordings
    "polyp": ("Generate an image containing a polyp.", "Generate an image with no polyps."),
    "instrument": ("Generate an image with 1 instrument.", "Generate an image with no instruments."),
    "box_artefact": (
        "Generate an image containing a green/black box artefact.",
        "Generate an image not containing a green/black box artefact.",
    ),
}
GRID_PROMPTS = (
    "Generate an image containing a polyp.",
    "Generate a polyp of type paris ip.",
    "Generate an image with no polyps.",
    "Generate an image with 1 instrument.",
    "Generate an image containing tube.",
    "Generate an image containing a green/black box artefact.",
    "Generate an image containing the z-line.",
    "Generate an image containing ulcerative colitis.",
)
SECOND_SAMPLE_SEED = 2


def load(model: str, steps: int, threads: int):
    import torch

    from promptopt.core.libraries import quiet_libraries
    from promptopt.core.paths import cache_dir
    from promptopt.generators.diffusers_generator import load_generator

    if threads:
        torch.set_num_threads(threads)
    quiet_libraries()
    start = time.perf_counter()
    generator = load_generator(GeneratorConfig(model=model, device="cpu"), cache_dir=cache_dir())
    return generator, time.perf_counter() - start


def response(generator, args) -> dict:
    from promptopt.judge.schema import COLUMN
    from promptopt.judge.scorer import open_judge

    judge = open_judge("gi-sim", "the shipped judge")
    seeds = list(range(args.n_response))
    out = {}
    for attribute, (positive, negative) in RESPONSE_PAIRS.items():
        rates = {}
        for label, prompt in (("positive", positive), ("negative", negative)):
            images = generator.render([prompt] * len(seeds), seeds, guidance_scale=args.guidance, steps=args.steps)
            hit_rate = float((judge.predict(images)[:, COLUMN[attribute]] >= 0.5).mean())
            rates[label] = {"prompt": prompt, "hit_rate": hit_rate}
        out[attribute] = rates
        print(
            f"{attribute:13s} positive {rates['positive']['hit_rate']:.3f}  negative {rates['negative']['hit_rate']:.3f}"
        )
    return out


def joined_prompts(folder: Path, n: int) -> list[str]:
    """One caption per image of a GI-sim dataset: 1 to 4 of its prompts, joined (seeded by the index)."""
    from promptopt.datasets.layouts import load_dataset

    items = load_dataset(folder).items[:n]
    captions = []
    for i, item in enumerate(items):
        rng = np.random.default_rng(i)
        count = int(rng.integers(1, min(4, len(item.prompts)) + 1))
        captions.append(" ".join(item.prompts[int(j)] for j in rng.permutation(len(item.prompts))[:count]))
    return captions


def realism(generator, features, args) -> dict:
    import tempfile

    import torch
    from diffusers import UNet2DConditionModel

    from promptopt.core.images import image_files, load_images
    from promptopt.core.paths import cache_dir
    from promptopt.scorers.realism import reference_features, set_realism
    from promptopt.sim.reference import gi_sim_reference
    from promptopt.sim.writer import write_dataset

    reference = gi_sim_reference(None, 500, 64, cache_dir())
    ref = reference_features(
        reference, features, backbone=features.name, cache_dir=cache_dir(), identity=reference.name
    )
    second = Path(tempfile.mkdtemp()) / "gi-sim-second"
    write_dataset(second, args.n_realism, 64, SECOND_SAMPLE_SEED, image_format="png")
    prompts = joined_prompts(second, args.n_realism)
    seeds = list(range(len(prompts)))

    def fake_features(images) -> np.ndarray:
        return np.concatenate([features(images[i : i + 64]) for i in range(0, len(images), 64)])

    rows = {}
    trained = generator.render(prompts, seeds, guidance_scale=args.guidance, steps=args.steps)
    rows["gi-sim-tiny"] = set_realism(ref, fake_features(trained))
    pipe = generator.pipe
    trained_unet = pipe.unet
    with torch.random.fork_rng():
        torch.manual_seed(0)
        pipe.unet = UNet2DConditionModel.from_config(trained_unet.config).eval()
    try:
        rows["random-init UNet"] = set_realism(
            ref, fake_features(generator.render(prompts, seeds, guidance_scale=args.guidance, steps=args.steps))
        )
    finally:
        pipe.unet = trained_unet
    rows["second GI-sim sample"] = set_realism(ref, fake_features(load_images(image_files(second / "images"))))
    for name, row in rows.items():
        print(
            f"{name:22s} FID {row['fid']:8.2f}  KID {row['kid']:.4f} ± {row['kid_std']:.4f}  (n {int(row['n_fake'])})"
        )
    return {"reference": str(reference), "prompts": f"GI-sim seed {SECOND_SAMPLE_SEED}", **rows}


def speed(model: str, args) -> dict:
    generator, load_s = load(model, args.steps, args.threads)
    cfg = GeneratorConfig()
    prompts = ["Generate an image containing a polyp."] * 8
    start = time.perf_counter()
    generator.render(prompts, list(range(8)), guidance_scale=args.guidance, steps=args.steps)
    render_s = time.perf_counter() - start
    print(f"load {load_s:.2f} s, render 8 images at {cfg.width}x{cfg.height}, {args.steps} steps: {render_s:.2f} s")
    return {"load_s": load_s, "render_8_s": render_s, "size": cfg.width, "steps": args.steps}


def conditioning(generator) -> dict:
    import torch

    pipe = generator.pipe
    alphas = pipe.scheduler.alphas_cumprod
    v_prediction = pipe.scheduler.config.prediction_type == "v_prediction"
    channels, size = pipe.unet.config.in_channels, pipe.unet.config.sample_size
    seeded = (torch.Generator().manual_seed(seed) for seed in range(8))
    noise = torch.stack([torch.randn((channels, size, size), generator=g) for g in seeded])
    out: dict = {}
    with torch.no_grad():
        for attribute, pair in RESPONSE_PAIRS.items():
            embeds = [pipe.encode_prompt(prompt, "cpu", 8, False)[0] for prompt in pair]
            out[attribute] = {}
            for t in (999, 900, 700, 500, 300):
                a = alphas[t]
                x_t = (1 - a).sqrt() * noise
                x0 = []
                for embed in embeds:
                    pred = pipe.unet(x_t, t, encoder_hidden_states=embed).sample
                    if v_prediction:
                        x0.append(a.sqrt() * x_t - (1 - a).sqrt() * pred)
                    else:
                        x0.append((x_t - (1 - a).sqrt() * pred) / a.sqrt())
                out[attribute][t] = float((x0[0] - x0[1]).abs().mean())
            levels = ", ".join(f"{t}: {d:.3f}" for t, d in out[attribute].items())
            print(f"{attribute:13s} |x0(+) - x0(-)| at t = {levels}")
    return out


def grid(generator, args) -> None:
    from promptopt.core.grids import save_grid

    seeds = list(range(8))
    images = []
    for prompt in GRID_PROMPTS:
        images += generator.render([prompt] * 8, seeds, guidance_scale=args.guidance, steps=args.steps)
    save_grid(images, len(GRID_PROMPTS), args.out / "samples.png")
    print(f"wrote {args.out / 'samples.png'} (rows: {'; '.join(GRID_PROMPTS)})")


def shipped_features() -> None:
    from promptopt.core.paths import cache_dir
    from promptopt.scorers.assets import SHIPPED_DIR
    from promptopt.scorers.features_cache import cache_name
    from promptopt.scorers.inception import InceptionFeatures
    from promptopt.scorers.realism import reference_features
    from promptopt.sim.reference import gi_sim_reference

    features = InceptionFeatures()
    target = SHIPPED_DIR / "features"
    target.mkdir(parents=True, exist_ok=True)
    for category, n in (("polyp", 200), ("landmark", 200), ("instrument", 200), (None, 500)):
        folder = gi_sim_reference(category, n, 64, cache_dir())
        feats = reference_features(
            folder, features, backbone=features.name, cache_dir=cache_dir(), identity=folder.name
        )
        name = cache_name(features.name, folder.name)
        np.save(target / name, feats.astype(np.float32))  # exact: the network computes in float32
        print(f"{category or 'held-out'}: {n} images -> {target / name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="gi-sim-tiny")
    parser.add_argument(
        "--part", default="all", choices=("all", "response", "conditioning", "realism", "speed", "grid", "features")
    )
    parser.add_argument("--n-response", type=int, default=64)
    parser.add_argument("--n-realism", type=int, default=500)
    parser.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("generators/gi-sim-tiny"))
    parser.add_argument("--json", type=Path, default=None, help="Also write the figures to this JSON file.")
    args = parser.parse_args()
    if args.part == "features":
        return shipped_features()
    parts = ("speed", "response", "conditioning", "realism", "grid") if args.part == "all" else (args.part,)
    figures: dict = {"guidance_scale": args.guidance, "steps": args.steps}
    if "speed" in parts:
        figures["speed"] = speed(args.model, args)
    if set(parts) - {"speed"}:
        from promptopt.scorers.inception import InceptionFeatures

        generator, _ = load(args.model, args.steps, args.threads)
        features = InceptionFeatures()
        if "response" in parts:
            figures["response"] = response(generator, args)
        if "conditioning" in parts:
            figures["conditioning"] = conditioning(generator)
        if "realism" in parts:
            figures["realism"] = realism(generator, features, args)
        if "grid" in parts:
            grid(generator, args)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
