"""CPU time per image of CLIP-guided sampling against the same sampler unguided (scale 0), tiny-random at 32x32
with the tiny random open_clip model: the extra cost of the VAE decode + CLIP gradient per guided step.

    .venv/bin/python bench/clip_guided_cost.py   # run with OMP_NUM_THREADS=1 on a busy machine
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from promptopt.generators.clip_guided import ClipGuidedGenerator
from promptopt.generators.tiny import build_tiny_pipeline
from promptopt.scorers.clip import load_clip
from promptopt.scorers.tiny_clip import write_tiny_clip

PROMPTS = ["a colonoscopy image of a polyp"] * 4


def main() -> None:
    clip = load_clip(str(write_tiny_clip(Path(tempfile.mkdtemp()) / "clip")))
    pipe = build_tiny_pipeline()
    pipe.set_progress_bar_config(disable=True)
    for steps in (6, 20):
        for scale, every in ((0.0, 1), (300.0, 1), (300.0, 2)):
            gen = ClipGuidedGenerator(
                pipe, clip, clip_guidance_scale=scale, height=32, width=32, batch_size=4, guide_every=every
            )
            gen.render(PROMPTS[:1], [0], guidance_scale=3.0, steps=2)  # warm-up
            times = []
            for _ in range(3):
                start = time.process_time()
                gen.render(PROMPTS, [0, 1, 2, 3], guidance_scale=3.0, steps=steps)
                times.append(time.process_time() - start)
            print(f"steps={steps:2d} scale={scale:5.0f} guide_every={every}: {min(times) / 4 * 1000:6.0f} ms/image")


if __name__ == "__main__":
    main()
