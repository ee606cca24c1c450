"""GI-sim reference sets for the realism scorer: images that show a category, made once and cached.

A simulator, not medical data: these make realism scores meaningful offline, relative to GI-sim.
"""

from __future__ import annotations

from pathlib import Path

from promptopt.core import atomic
from promptopt.datasets.labels import attribute_states, category_attributes
from promptopt.sim.config import SimConfig, sim_key
from promptopt.sim.labels import Labels
from promptopt.sim.scene import simulate

REFERENCE_SEED = 20_241  # disjoint from the seeds `promptopt data sim` defaults to
REFERENCE_VERSION = "v1"


def shows(labels: Labels, category: str) -> bool:
    """Whether a GI-sim image shows the OPG category: one of the category's attributes is present, by the one rule
    (`promptopt.datasets.labels.category_attributes`) the classifier scorer uses too."""
    states = attribute_states(labels.as_dict())
    return any(states[attribute] is True for attribute in category_attributes(category))


def gi_sim_reference(
    category: str | None, n: int, size: int, cache_dir: Path, cfg: SimConfig = SimConfig(), seed: int = REFERENCE_SEED
) -> Path:
    """A cached folder of `n` GI-sim images at `size`×`size` that show `category` (None: every image, the
    held-out set `promptopt evaluate` compares with by default).

    The folder's name is the set's identity, its recipe (simulator version, config, seed, category, n, size):
    pass it as `identity` to the feature cache (`scorers.features_cache`), which finds the shipped features by
    it. Its pixels are not the identity: numpy's SIMD maths paints a few pixels one level apart on CPUs without
    AVX-512 (5 of 737,280 values in 60 images), which moves Inception features by float noise only."""
    key = sim_key(cfg, REFERENCE_VERSION, seed, category, n, size)
    target = cache_dir / "reference" / f"gi-sim-{category or 'all'}-{n}x{size}-{key}"
    if target.is_dir():
        return target
    with atomic.staged_dir(target) as folder:
        found, index = 0, 0
        while found < n:
            image, labels = simulate(seed, index, size, cfg)
            if category is None or shows(labels, category):
                image.save(folder / f"{found:05d}.png")
                found += 1
            index += 1
        (folder / "README.md").write_text(
            f"GI-sim reference set (a simulator, not medical data): {n} images "
            f"{f'showing {category!r}' if category else 'of every kind'}, {size}x{size}, seed {seed}, "
            "images kept in index order.\n"
        )
    return target
