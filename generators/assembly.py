"""Assemble the generator a `GeneratorConfig` names: the loaded pipeline wrapped in its sampling (`plain`,
`rerank` over CLIP image-prompt similarity, or `clip-guided`). The one way every command builds a generator."""

from __future__ import annotations

from pathlib import Path

from promptopt.generators.base import Generator, GeneratorConfig
from promptopt.generators.diffusers_generator import load_generator
from promptopt.generators.errors import GeneratorInputError


def assemble_generator(cfg: GeneratorConfig, *, cache_dir: Path) -> Generator:
    """The generator `cfg` names; ModelNotFoundError or GeneratorInputError for what the user can fix (a missing
    model, a misfit LoRA, a dtype or device this machine lacks, a CLIP model that does not load)."""
    generator = load_generator(cfg, cache_dir=cache_dir)
    if cfg.sampling == "plain":
        return generator
    from promptopt.scorers.clip import load_clip

    try:
        clip = load_clip(cfg.clip_model, device=generator.device)
    except (FileNotFoundError, ValueError) as err:
        raise GeneratorInputError(f"[generator] clip_model: {err}") from None
    if cfg.sampling == "rerank":
        from promptopt.generators.rerank import RerankGenerator, clip_similarity

        return RerankGenerator(
            generator, clip_similarity(clip), scorer_name=f"clip:{clip.name}", candidates=cfg.rerank_candidates
        )
    from promptopt.generators.clip_guided import ClipGuidedGenerator

    try:
        return ClipGuidedGenerator.from_generator(
            generator, clip, clip_guidance_scale=cfg.clip_guidance_scale, guide_every=cfg.clip_guide_every
        )
    except ValueError as err:
        raise GeneratorInputError(f"[generator] sampling = 'clip-guided': {err}") from None
