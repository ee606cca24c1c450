"""Study configuration: frozen dataclasses loaded from a TOML file, overridable from the CLI.

A study TOML has the sections `[study]`, `[generator]`, `[mutator]`, `[scorers.intent]`, `[scorers.realism]`,
`[[objectives]]` and `[export]`. Unknown keys, wrong types and impossible values are input errors.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomllib

from promptopt.core.errors import InputError
from promptopt.core.tomlio import build_dataclass, to_dict
from promptopt.generators.base import GeneratorConfig
from promptopt.grammar import CATEGORY_NAMES, categories, validate
from promptopt.scorers.assets import GI_SIM

DIRECTIONS = ("maximize", "minimize")
SAMPLERS = ("gp", "tpe", "random")  # bench/search_efficiency.py compares them
MAX_SEED = 2**31 - 1  # the sampler's seed (study seed + trials so far) must stay below numpy's 2**32
MAX_IMAGES_PER_TRIAL = 2048  # a trial's images stay in memory until scored (2048 at 512×512: 1.6 GB)
# generator keys that change speed or memory use, not what is drawn: a study may resume with other values
GENERATOR_RUNTIME_KEYS = ("device", "dtype", "batch_size", "attention_slicing", "vae_tiling", "compile")
# generator keys added after the first studies ran: left out of the identity at their defaults, so those resume
GENERATOR_LATER_KEYS = (
    "single_file_config", "scheduler", "loras", "fuse_lora",
    "sampling", "clip_model", "rerank_candidates", "clip_guidance_scale", "clip_guide_every",
)  # fmt: skip


@dataclass(frozen=True)
class StudySection:
    """What is searched and how long. `n_trials` is the total number of complete trials wanted. `target`: the
    attribute values every image should show besides the category, in the grammar's form (for example
    `{ polyp_types = ["ip"], polyp_sizes = [">20mm"] }`); the judge scores them and the search keeps them.
    `sampler`, for one objective: Gaussian-process Bayesian optimisation (`gp`, the default: it reached the best
    prompts soonest in bench/search_efficiency.py), TPE (`tpe`: with many workers on one study, its constant liar
    keeps them from proposing what another is rendering) or `random` search. Several objectives use NSGA-II (or
    `random`)."""

    name: str
    category: str
    n_trials: int = 12
    seed: int = 0
    images_per_trial: int = 4
    target: dict[str, Any] = field(default_factory=dict)
    sampler: str = "gp"

    def __post_init__(self) -> None:
        if self.sampler not in SAMPLERS:
            raise InputError(f"unknown sampler {self.sampler!r}: choose one of {', '.join(SAMPLERS)}")
        if self.category not in CATEGORY_NAMES:
            raise InputError(f"unknown category {self.category!r}: choose one of {', '.join(CATEGORY_NAMES)}")
        validate(self.target)
        if self.target and self.category not in categories(self.target) and categories(self.target):
            raise InputError(f"target {self.target} is not a {self.category} target: name {self.category} attributes")
        if self.n_trials < 1:
            raise InputError(f"n_trials must be at least 1, got {self.n_trials}")
        if not 0 <= self.seed <= MAX_SEED:
            raise InputError(f"seed must be between 0 and {MAX_SEED}, got {self.seed}")
        if self.images_per_trial < 2:
            raise InputError(f"images_per_trial must be at least 2 (KID needs two images), got {self.images_per_trial}")
        if self.images_per_trial > MAX_IMAGES_PER_TRIAL:
            raise InputError(
                f"images_per_trial {self.images_per_trial} is more than the {MAX_IMAGES_PER_TRIAL} a trial holds in "
                "memory to score: search with fewer, then render a large set with promptopt render and score it "
                "with promptopt evaluate, which stream"
            )
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise InputError(f"study name {self.name!r} must be a plain folder name")

    @property
    def eval_seeds(self) -> tuple[int, ...]:
        """The evaluation seeds, the same in every trial so that trials differ only by their candidate."""
        return tuple(range(self.seed * 1_000_003, self.seed * 1_000_003 + self.images_per_trial))


@dataclass(frozen=True)
class MutatorConfig:
    """The search space: how many real prompts seed it, and the guidance and step pools."""

    seed_prompts: int = 12
    guidance_min: float = 3.0
    guidance_max: float = 9.0
    guidance_step: float = 0.5
    steps: tuple[int, ...] = (10, 20)

    def __post_init__(self) -> None:
        if self.seed_prompts < 1:
            raise InputError(f"mutator.seed_prompts must be at least 1, got {self.seed_prompts}")
        if not 0 < self.guidance_min <= self.guidance_max or self.guidance_step <= 0:
            raise InputError("mutator guidance needs 0 < guidance_min <= guidance_max and guidance_step > 0")
        n_steps = (self.guidance_max - self.guidance_min) / self.guidance_step
        if abs(n_steps - round(n_steps)) > 1e-9:
            raise InputError("mutator: guidance_max - guidance_min must be a multiple of guidance_step")
        if not self.steps or min(self.steps) < 1:
            raise InputError(f"mutator.steps must be a non-empty list of positive integers, got {list(self.steps)}")


@dataclass(frozen=True)
class IntentConfig:
    """Prompt–intent similarity with all-MiniLM-L6-v2; empty `intent` means the category's default."""

    intent: str = ""


@dataclass(frozen=True)
class RealismConfig:
    """KID against a reference image folder (relative paths are relative to the study TOML's folder).

    `reference = "gi-sim"` uses `gi_sim_images` GI-sim images (a simulator, not medical data) that show the
    study's category, made once and cached: the offline default.
    """

    reference: str
    subset_size: int = 100
    gi_sim_images: int = 200

    def __post_init__(self) -> None:
        if self.subset_size < 2:
            raise InputError(f"scorers.realism.subset_size must be at least 2, got {self.subset_size}")
        if self.gi_sim_images < 2:
            raise InputError(f"scorers.realism.gi_sim_images must be at least 2, got {self.gi_sim_images}")


@dataclass(frozen=True)
class ClipConfig:
    """CLIPScore with an open_clip model: a folder, `ARCH:FILE`, or `ARCH/TAG` when cached or online."""

    model: str


@dataclass(frozen=True)
class DiversityConfig:
    """Mean pairwise Inception-feature distance within a trial's batch (euclidean or cosine)."""

    metric: str = "euclidean"

    def __post_init__(self) -> None:
        if self.metric not in ("euclidean", "cosine"):
            raise InputError(f"scorers.diversity.metric must be euclidean or cosine, got {self.metric!r}")


@dataclass(frozen=True)
class JudgeSection:
    """Target consistency, hit rate and prompt consistency from the judge (`promptopt.judge.scorer`): a
    .safetensors from `promptopt fit judge`, or `gi-sim`, the one shipped with promptopt (fitted on GI-sim through
    gi-sim-tiny's autoencoder)."""

    model: str = GI_SIM


@dataclass(frozen=True)
class AlignerConfig:
    """Image-prompt alignment from an aligner fitted with `promptopt fit aligner` (a .safetensors path, or
    `gi-sim`: the one shipped with promptopt)."""

    model: str


@dataclass(frozen=True)
class ScorersConfig:
    intent: IntentConfig | None = None
    realism: RealismConfig | None = None
    clip: ClipConfig | None = None
    diversity: DiversityConfig | None = None
    judge: JudgeSection | None = None
    aligner: AlignerConfig | None = None

    def metrics(self) -> dict[str, bool]:
        """Metric name → higher is better, for every configured scorer."""
        out: dict[str, bool] = {}
        if self.intent is not None:
            out["intent"] = True
        if self.realism is not None:
            out["kid"] = False
        if self.clip is not None:
            out["clip_score"] = True
        if self.diversity is not None:
            out["diversity"] = True
        if self.judge is not None:
            out.update(target_consistency=True, hit_rate=True, consistency=True)
        if self.aligner is not None:
            out["aligner_score"] = True
        return out


@dataclass(frozen=True)
class ObjectiveConfig:
    """One Optuna objective: a weighted sum of scorer metrics."""

    name: str
    terms: dict[str, float]
    direction: str = "maximize"

    def __post_init__(self) -> None:
        if self.direction not in DIRECTIONS:
            raise InputError(f"objective {self.name!r}: direction must be maximize or minimize, got {self.direction!r}")
        if not self.terms:
            raise InputError(f"objective {self.name!r} has no terms: give e.g. terms = {{ intent = 1.0 }}")

    def value(self, scores: dict[str, float]) -> float:
        return sum(weight * scores[metric] for metric, weight in self.terms.items())


@dataclass(frozen=True)
class ExportConfig:
    """What the export holds: the top-k distinct prompts and a dataset rendered from them on fresh seeds.
    `validation_images` fresh seeds re-score the top-k before they are ranked (`promptopt.search.finalists`; 0 ranks
    them by their trial scores). With a `[scorers.judge]`, `holdout_images` other fresh seeds compare the
    first prompt's target consistency with the plain seed prompt's (`promptopt.search.holdout`; 0 skips the check)."""

    top_k: int = 5
    images_per_prompt: int = 8
    validation_images: int = 32
    holdout_images: int = 32

    def __post_init__(self) -> None:
        if self.top_k < 1:
            raise InputError(f"export.top_k (--top-k) must be at least 1, got {self.top_k}")
        for name in ("images_per_prompt", "validation_images", "holdout_images"):
            if getattr(self, name) < 0:
                flag = name.replace("_", "-")
                raise InputError(f"export.{name} (--{flag}) must be 0 or more, got {getattr(self, name)}")
        if self.validation_images == 1:
            raise InputError(
                "export.validation_images (--validation-images) must be 0 (no validation) or at least 2 (KID needs "
                "two images), got 1"
            )


@dataclass(frozen=True)
class StudyConfig:
    study: StudySection
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    mutator: MutatorConfig = field(default_factory=MutatorConfig)
    scorers: ScorersConfig = field(default_factory=ScorersConfig)
    objectives: tuple[ObjectiveConfig, ...] = ()
    export: ExportConfig = field(default_factory=ExportConfig)
    source: str = ""

    def __post_init__(self) -> None:
        if not self.objectives:
            raise InputError("the study names no [[objectives]]: add at least one")
        available = self.scorers.metrics()
        for objective in self.objectives:
            unknown = sorted(set(objective.terms) - set(available))
            if unknown:
                raise InputError(
                    f"objective {objective.name!r} uses {', '.join(unknown)}, which no configured scorer provides "
                    f"(available: {', '.join(sorted(available)) or 'none'}); add the scorer or remove the term"
                )
        names = [o.name for o in self.objectives]
        if len(set(names)) != len(names):
            raise InputError(f"objective names must be distinct, got {names}")

    def search_identity(self) -> dict[str, Any]:
        """The parts that must not change when a study resumes (n_trials and export may)."""
        data = to_dict(self)
        data["study"] = {k: v for k, v in data["study"].items() if k != "n_trials" and (k != "target" or v)}
        defaults = to_dict(GeneratorConfig())
        data["generator"] = {
            k: v
            for k, v in data["generator"].items()
            if k not in GENERATOR_RUNTIME_KEYS and not (k in GENERATOR_LATER_KEYS and v == defaults[k])
        }
        data.pop("export")
        return data

    def with_study(
        self,
        *,
        n_trials: int | None = None,
        images_per_trial: int | None = None,
        seed: int | None = None,
        sampler: str | None = None,
        name: str | None = None,
        target: dict[str, Any] | None = None,
    ) -> StudyConfig:
        """A copy with the [study] values given (None: keep the study's, as for a flag not given)."""
        changes = _given(
            n_trials=n_trials, images_per_trial=images_per_trial, seed=seed, sampler=sampler, name=name, target=target
        )
        return dataclasses.replace(self, study=dataclasses.replace(self.study, **changes)) if changes else self

    def with_generator(
        self, *, model: str | None = None, device: str | None = None, dtype: str | None = None
    ) -> StudyConfig:
        """A copy with the [generator] values given (None: keep the study's)."""
        changes = _given(model=model, device=device, dtype=dtype)
        return dataclasses.replace(self, generator=dataclasses.replace(self.generator, **changes)) if changes else self

    def with_export(
        self,
        *,
        top_k: int | None = None,
        images_per_prompt: int | None = None,
        validation_images: int | None = None,
        holdout_images: int | None = None,
    ) -> StudyConfig:
        """A copy with the [export] values given (None: keep the study's)."""
        changes = _given(
            top_k=top_k,
            images_per_prompt=images_per_prompt,
            validation_images=validation_images,
            holdout_images=holdout_images,
        )
        return dataclasses.replace(self, export=dataclasses.replace(self.export, **changes)) if changes else self


def _given(**values: Any) -> dict[str, Any]:
    """The values a caller gave (not None)."""
    return {key: value for key, value in values.items() if value is not None}


def from_dict(data: dict[str, Any], source: str = "") -> StudyConfig:
    """Build and validate a StudyConfig from parsed TOML."""
    body = dict(data)
    if "objectives" in body and not isinstance(body["objectives"], list):
        raise InputError("objectives must be an array of tables: write [[objectives]]")
    return dataclasses.replace(build_dataclass(StudyConfig, body, ""), source=source)


def load_study(path: Path) -> StudyConfig:
    """Read and validate a study TOML."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"study config {path} does not exist: pass an existing TOML with --study") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(
            f"study config {path} cannot be read ({err.__class__.__name__}): check its permissions and encoding"
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise InputError(f"study config {path} is not valid TOML: {err}") from None
    cfg = from_dict(data, source=str(path.resolve()))
    here = path.resolve().parent
    scorers = cfg.scorers
    if scorers.realism is not None and scorers.realism.reference != GI_SIM:
        folder = str((here / Path(scorers.realism.reference).expanduser()).resolve())
        scorers = dataclasses.replace(scorers, realism=dataclasses.replace(scorers.realism, reference=folder))
    for name in ("judge", "aligner"):
        section = getattr(scorers, name)
        if section is not None and section.model != GI_SIM:
            model = str((here / Path(section.model).expanduser()).resolve())
            scorers = dataclasses.replace(scorers, **{name: dataclasses.replace(section, model=model)})
    return dataclasses.replace(cfg, scorers=scorers)
