"""The judge: one multi-attribute image model that says, for every attribute a prompt can ask for, how likely an
image shows it.

Its outputs come in heads (`Head`): a head of independent yes/no outputs (sigmoids: presence of each finding,
size bins, location cells, …) or of mutually exclusive values (a softmax: a count, the procedure). The judge
knows nothing of the grammar: the schema (which heads, which names) is given to it, and saved with it.

The network is a small CNN trained from scratch at `size`×`size`: four blocks of two 3×3 conv + BatchNorm + ReLU
and a 2×2 max-pool, the last map flattened (so position survives: the location heads need it), a dense layer and
one linear output per attribute value. The heads `JudgeConfig.separate` names get a trunk of their own
(`build_net`): sharing one, the many location, colour and size outputs took the trunk from the thin instruments
(on 3,000 GI-sim images, half rare-enriched, 6 epochs: metal clip AUROC 0.80 shared, 1.00 on its own trunk, the
other heads unchanged). A judge's probabilities are temperature scaled, one temperature a head, fitted on
held-out images (`calibrate`).

An "any of" output (`AnyOf`: a name and its members, e.g. any landmark) is trained like the others, but the
judge reports the probability that at least one member holds, members taken as independent (noisy-OR). Learned
alone, such an output misfired on generated images where no member did (58 % of biopsy-forceps renders called
"a landmark" with no landmark above 0.5), so the judge never says "some X" without a member that makes it so.

Each output has a decision threshold (`Judge.thresholds`: an image shows it when its probability reaches it),
chosen when the judge is fitted (`promptopt.scorers.judge_training.choose_threshold`), and an output whose held-out
precision or recall at its threshold misses the bar, or that had too few positives to tell, is `uncertifiable`:
what the judge says of it is not evidence. A judge file from before thresholds reads with 0.5 for every output
and none marked (`legacy_thresholds`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from promptopt.core.errors import InputError, Note
from promptopt.core.images import stack
from promptopt.scorers.fitting import load_model, save_model

KIND = "judge"
BACKBONE = "cnn"  # the only trunk today: trained from scratch with the heads
DEFAULT_THRESHOLD = 0.5  # the decision threshold of an output a judge file gives none for


@dataclass(frozen=True)
class Head:
    """One group of outputs. `exclusive`: exactly one value holds (softmax); otherwise each is a yes/no."""

    name: str
    outputs: tuple[str, ...]
    exclusive: bool = False


Schema = tuple[Head, ...]
AnyOf = tuple[tuple[str, tuple[str, ...]], ...]  # (output, its members)


def output_names(schema: Schema) -> tuple[str, ...]:
    return tuple(name for head in schema for name in head.outputs)


def head_slices(schema: Schema) -> list[tuple[Head, slice]]:
    """Each head with its columns in the output vector."""
    out, start = [], 0
    for head in schema:
        out.append((head, slice(start, start + len(head.outputs))))
        start += len(head.outputs)
    return out


@dataclass(frozen=True)
class JudgeConfig:
    """The network and its training. `size`: input width and height; `widths`: channels of the four conv
    blocks; `noise`: std of the Gaussian noise added to training pixels (on the [-1, 1] scale); `balance`: how
    much images showing rare attribute values are drawn more often (0: every image once an epoch; b > 0: drawn
    with replacement, weight = the largest (1 / share of images showing it) ** b over the values it shows);
    `separate`: heads with a trunk of their own (module docstring)."""

    size: int = 64
    widths: tuple[int, ...] = (32, 64, 96, 128)
    dense: int = 256
    epochs: int = 14
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-4
    noise: float = 0.03
    balance: float = 0.5
    separate: tuple[str, ...] = ("presence",)
    seed: int = 0

    def __post_init__(self) -> None:
        if self.size % (2 ** len(self.widths)) or self.size < 2 ** len(self.widths):
            raise InputError(f"size {self.size} must be a multiple of {2 ** len(self.widths)} for {self.widths}")
        for name in ("epochs", "batch_size", "dense"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.lr <= 0 or self.weight_decay < 0 or self.noise < 0 or self.balance < 0:
            raise InputError("lr must be > 0, weight_decay, noise and balance >= 0")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JudgeConfig:
        """The config a judge file records (one from before `separate` had one trunk for all heads)."""
        separate = tuple(data.get("separate", ()))
        return cls(**{**data, "widths": tuple(data["widths"]), "separate": separate})


def build_net(config: JudgeConfig, schema: Schema) -> Any:
    """The network of `config` for `schema`'s outputs: one trunk for the heads `config.separate` names and one
    for the rest (one for all when it names none), the logits in the schema's column order."""
    import torch
    from torch import nn

    groups = [[i for i, h in enumerate(schema) if (h.name in config.separate) == own] for own in (True, False)]
    groups = [g for g in groups if g]
    if len(groups) == 1:
        return _trunk(config, len(output_names(schema)))
    slices = [cols for _, cols in head_slices(schema)]
    columns = [[c for i in g for c in range(slices[i].start, slices[i].stop)] for g in groups]
    order = torch.tensor(np.argsort(np.concatenate(columns)))

    class Split(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.trunks = nn.ModuleList(_trunk(config, len(c)) for c in columns)
            self.register_buffer("order", order, persistent=False)

        def forward(self, x: Any) -> Any:
            return torch.cat([trunk(x) for trunk in self.trunks], dim=1)[:, self.order]

    return Split()


def _trunk(config: JudgeConfig, n_outputs: int) -> Any:
    """The CNN of `config` with `n_outputs` logits (module docstring)."""
    from torch import nn

    layers: list[Any] = []
    channels = 3
    for width in config.widths:
        for _ in range(2):
            layers += [nn.Conv2d(channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
            channels = width
        layers.append(nn.MaxPool2d(2))
    cells = (config.size // 2 ** len(config.widths)) ** 2
    layers += [
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(channels * cells, config.dense),
        nn.ReLU(),
        nn.Linear(config.dense, n_outputs),
    ]
    return nn.Sequential(*layers)


def to_input(pixels: np.ndarray) -> Any:
    """uint8 NHWC → float32 NCHW on [-1, 1]."""
    import torch

    return torch.from_numpy(pixels).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def probabilities(logits: Any, schema: Schema, temperature: Any) -> Any:
    """Logits → probabilities: a softmax per exclusive head, a sigmoid per yes/no output; each head's logits
    divided by its temperature first."""
    import torch

    parts = []
    for (head, cols), t in zip(head_slices(schema), temperature):
        scaled = logits[:, cols] / t
        parts.append(scaled.softmax(dim=1) if head.exclusive else torch.sigmoid(scaled))
    return torch.cat(parts, dim=1)


@dataclass
class Judge:
    """A trained judge: `predict(images)` → (n, len(outputs)) probabilities, columns in `outputs` order."""

    schema: Schema
    config: JudgeConfig
    state: dict[str, Any]
    temperature: np.ndarray  # one a head
    meta: dict[str, Any] = field(default_factory=dict)
    any_of: AnyOf = ()
    thresholds: np.ndarray | None = None  # one an output, in `outputs` order; None: DEFAULT_THRESHOLD for all
    uncertifiable: tuple[str, ...] = ()
    _net: Any = field(default=None, repr=False)

    @property
    def outputs(self) -> tuple[str, ...]:
        return output_names(self.schema)

    def threshold_array(self) -> np.ndarray:
        """The decision threshold of every output, in `outputs` order."""
        if self.thresholds is None:
            return np.full(len(self.outputs), DEFAULT_THRESHOLD)
        return self.thresholds

    @property
    def legacy_thresholds(self) -> bool:
        """Whether the judge came without thresholds (a file from before them): every output at 0.5."""
        return self.thresholds is None

    def decide(self, proba: np.ndarray) -> np.ndarray:
        """(n, outputs) booleans: whether each image shows each output, at its threshold."""
        return proba >= self.threshold_array()[None, :]

    def net(self) -> Any:
        if self._net is None:
            net = build_net(self.config, self.schema)
            net.load_state_dict(self.state)
            self._net = net.eval()
        return self._net

    def logits(self, pixels: np.ndarray, batch_size: int = 256) -> Any:
        """Logits of uint8 NHWC pixels at the judge's size."""
        import torch

        net = self.net()
        with torch.inference_mode():
            return torch.cat([net(to_input(pixels[i : i + batch_size])) for i in range(0, len(pixels), batch_size)])

    def predict_pixels(self, pixels: np.ndarray) -> np.ndarray:
        import torch

        t = torch.from_numpy(self.temperature.astype(np.float32))
        proba = probabilities(self.logits(pixels), self.schema, t).double().numpy()
        column = {name: i for i, name in enumerate(self.outputs)}
        for name, members in self.any_of:
            proba[:, column[name]] = 1.0 - np.prod(1.0 - proba[:, [column[m] for m in members]], axis=1)
        return proba

    def predict(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, len(self.outputs)))
        return self.predict_pixels(stack(images, self.config.size))

    def save(self, path: Path) -> None:
        meta = {
            **self.meta,
            "kind": KIND,
            "backbone": BACKBONE,
            "schema": [asdict(head) for head in self.schema],
            "config": asdict(self.config),
            "temperature": [float(t) for t in self.temperature],
            "any_of": {name: list(members) for name, members in self.any_of},
            "thresholds": None
            if self.thresholds is None
            else {name: float(t) for name, t in zip(self.outputs, self.thresholds)},
            "uncertifiable": list(self.uncertifiable),
        }
        save_model(path, dict(self.state), meta)


def load_judge(path: Path, schema: Schema | None = None) -> Judge:
    """The judge saved at `path`. With `schema`, ValueError unless the file's schema is that one (a judge of
    another attribute set) or its trunk is unknown (another backbone)."""
    state, meta = load_model(path, KIND)
    if meta.get("backbone") != BACKBONE:
        raise ValueError(f"{path} is a judge on backbone {meta.get('backbone')!r}; this promptopt reads {BACKBONE!r}")
    saved = tuple(Head(h["name"], tuple(h["outputs"]), bool(h["exclusive"])) for h in meta["schema"])
    if schema is not None and saved != schema:
        missing = sorted(set(output_names(schema)) - set(output_names(saved)))
        raise ValueError(
            f"{path} judges another attribute set (missing {', '.join(missing[:5]) or 'none'}"
            f"{', …' if len(missing) > 5 else ''}): fit a judge for this promptopt (promptopt fit judge)"
        )
    config = JudgeConfig.from_dict(meta["config"])
    any_of = tuple((name, tuple(members)) for name, members in meta.get("any_of", {}).items())
    stored = meta.get("thresholds")
    if not stored:
        warnings.warn(
            f"judge {path} has no decision thresholds (made before they were stored): every output is read at "
            f"{DEFAULT_THRESHOLD} and none is marked uncertifiable; refit it with promptopt fit judge",
            Note,
            stacklevel=2,
        )
    names = output_names(saved)
    thresholds = None if not stored else np.array([float(stored.get(n, DEFAULT_THRESHOLD)) for n in names])
    temperature = np.asarray(meta["temperature"], dtype=np.float64)
    uncertifiable = tuple(meta.get("uncertifiable", ()))
    return Judge(saved, config, state, temperature, meta, any_of, thresholds, uncertifiable)
