"""`promptopt fit classifier` and `promptopt fit aligner`: fit the offline scorers on a prompt–image dataset.

Both split the dataset by image (seeded), fit on the training part, print the held-out metrics and save the
model as FILE.safetensors + FILE.json. Image features are cached, so refitting with other settings is fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from promptopt.commands.folders import check_writable
from promptopt.commands.options import (
    backbone_option,
    device_flag,
    epochs_option,
    feature_device_option,
    hidden_option,
    holdout_option,
    json_option,
)
from promptopt.commands.output import print_json, task_progress
from promptopt.core.errors import InputError

DATA_HELP = "Dataset folder (challenge layout, caption CSV or imagefolder with metadata.jsonl), or gi-sim."
OUT_HELP = "Model file to write, ending in .safetensors (its metadata goes beside it as .json)."


def check_out(out: Path) -> None:
    """`out` must end in .safetensors, not be a folder, not replace a file that is not a fitted promptopt model
    (a refit replaces its own file), and sit in a writable folder."""
    if out.suffix != ".safetensors":
        raise InputError(f"--out {out} must end in .safetensors (the metadata goes beside it as .json)")
    if out.is_dir():
        raise InputError(f"--out {out} is a folder: name a .safetensors file")
    meta = out.with_suffix(".json")
    if (out.exists() or meta.exists()) and not _fitted_model(meta):
        raise InputError(f"--out {out} (or {meta.name} beside it) exists and is no promptopt model: choose a new path")
    check_writable(out.parent)


def _fitted_model(meta: Path) -> bool:
    """Whether `meta` is the .json a promptopt fit wrote (it names the model's kind)."""
    try:
        return isinstance(json.loads(meta.read_text(encoding="utf-8")).get("kind"), str)
    except (OSError, ValueError, AttributeError):
        return False


def _features(
    data: str, *, backbone: str, device: str, gi_sim_images: int, size: int, holdout: float, quiet: bool, labelled: bool
) -> Any:
    """Load the backbone and the dataset and check the options that depend on it (the split; when `labelled`, that
    some attribute can be fitted) before any feature is computed, then compute or read its image features."""
    from promptopt.evaluate.probes import dataset_features, load_backbone, load_items, require_trainable, split
    from promptopt.sim.writer import resolve_data

    features = load_backbone(backbone, device_flag(device))  # a spec it cannot load fails before any data is made
    dataset = load_items(resolve_data(data, gi_sim_images=gi_sim_images, size=size))
    split(len(dataset.items), holdout, 0)
    if labelled:
        require_trainable(dataset)
    with task_progress(quiet=quiet, transient=True) as progress:
        return dataset_features(dataset, features, progress=progress)


def classifier(
    data: str = typer.Option(..., "--data", help=DATA_HELP),
    out: Path = typer.Option(..., "--out", help=OUT_HELP),
    epochs: int = epochs_option(),
    hidden: int = hidden_option(),
    weight_decay: float = typer.Option(0.1, "--weight-decay", help="AdamW weight decay."),
    seed: int = typer.Option(
        0, "--seed", min=0, help="Seed of the held-out split, the shuffles and the initialisation."
    ),
    holdout: float = holdout_option(0.2, "Share of images held out for the metrics."),
    backbone: str = backbone_option(),
    gi_sim_images: int = typer.Option(2000, "--gi-sim-images", min=2, help="Images of the GI-sim set (--data gi-sim)."),
    size: int = typer.Option(64, "--size", min=32, max=1024, help="Image size of the GI-sim set (--data gi-sim)."),
    device: str = feature_device_option(),
    as_json: bool = json_option("the metrics"),
) -> None:
    """Fit the multi-label attribute classifier (the probe).

    Polyp, instrument, landmarks, text, box artefact … on frozen image features; unknown labels (attributes an
    image's prompts never mention) are masked out."""
    from promptopt.evaluate.probes import fit_classifier_on
    from promptopt.scorers.classifier import ProbeConfig

    check_out(out)
    config = ProbeConfig(epochs=epochs, hidden=hidden, weight_decay=weight_decay, seed=seed)
    fs = _features(
        data,
        backbone=backbone,
        device=device,
        gi_sim_images=gi_sim_images,
        size=size,
        holdout=holdout,
        quiet=as_json,
        labelled=True,
    )
    model, metrics = fit_classifier_on(fs, holdout=holdout, config=config)
    model.save(out)
    summary = {
        "out": str(out),
        "data": model.meta["data"],
        "backbone": fs.backbone,
        "n_train": model.meta["n_train"],
        "n_held_out": model.meta["n_held_out"],
        "not_fitted": model.meta["not_fitted"],
        **metrics,
    }
    if as_json:
        print_json(summary)
    else:
        _print_classifier(summary)


def aligner(
    data: str = typer.Option(..., "--data", help=DATA_HELP),
    out: Path = typer.Option(..., "--out", help=OUT_HELP),
    epochs: int = epochs_option(),
    dim: int = typer.Option(128, "--dim", help="Dimension of the shared space."),
    seed: int = typer.Option(
        0, "--seed", min=0, help="Seed of the held-out split, the shuffles and the initialisation."
    ),
    holdout: float = holdout_option(0.2, "Share of images held out for the metrics."),
    backbone: str = backbone_option(),
    gi_sim_images: int = typer.Option(2000, "--gi-sim-images", min=2, help="Images of the GI-sim set (--data gi-sim)."),
    size: int = typer.Option(64, "--size", min=32, max=1024, help="Image size of the GI-sim set (--data gi-sim)."),
    device: str = feature_device_option(),
    as_json: bool = json_option("the metrics"),
) -> None:
    """Fit the LiT-style text–image aligner.

    Linear projections of frozen image features and frozen all-MiniLM-L6-v2 prompt embeddings into one space
    (multi-positive symmetric InfoNCE); reports held-out retrieval recall@1/5."""
    from promptopt.core.libraries import quiet_libraries
    from promptopt.evaluate.probes import fit_aligner_on
    from promptopt.scorers.aligner import AlignerFitConfig
    from promptopt.scorers.intent import load_minilm

    check_out(out)
    config = AlignerFitConfig(epochs=epochs, dim=dim, seed=seed)
    fs = _features(
        data,
        backbone=backbone,
        device=device,
        gi_sim_images=gi_sim_images,
        size=size,
        holdout=holdout,
        quiet=as_json,
        labelled=False,
    )
    quiet_libraries()
    model, metrics = fit_aligner_on(fs, load_minilm(), holdout=holdout, config=config)
    model.save(out)
    summary = {
        "out": str(out),
        "data": model.meta["data"],
        "backbone": fs.backbone,
        "text_encoder": model.text_encoder,
        "n_train_images": model.meta["n_train_images"],
        "n_held_out": model.meta["n_held_out"],
        "temperature": model.meta["temperature"],
        **metrics,
    }
    if as_json:
        print_json(summary)
    else:
        _print_aligner(summary)


def _print_classifier(s: dict[str, Any]) -> None:
    typer.echo(
        f"classifier on {s['backbone']} features: fitted on {s['n_train']} images of {s['data']['root']}, "
        f"held out {s['n_held_out']}"
    )
    typer.echo(f"{'attribute':<20} {'present':>7} {'absent':>6} {'AUROC':>6} {'recall':>6} {'F1':>6}")
    for name, m in s["attributes"].items():
        typer.echo(
            f"{name:<20} {m['n_present']:>7} {m['n_absent']:>6} {m['auroc']:>6.3f} {m['recall']:>6.3f} {m['f1']:>6.3f}"
        )
    if s["macro_auroc"] is not None:
        typer.echo(f"{'macro':<20} {'':>7} {'':>6} {s['macro_auroc']:>6.3f} {'':>6} {s['macro_f1']:>6.3f}")
    for name, why in s["skipped"].items():
        typer.echo(f"no held-out AUROC for {name}: {why}")
    for name, why in s["not_fitted"].items():
        typer.echo(f"not fitted: {name}: {why}")
    typer.echo(f"saved {s['out']} (+ .json)")


def _print_aligner(s: dict[str, Any]) -> None:
    typer.echo(
        f"aligner ({s['backbone']} + {s['text_encoder']}): fitted on {s['n_train_images']} images of "
        f"{s['data']['root']}, held out {s['n_held_out']} images with {s['n_texts']} distinct prompts "
        f"({s['unseen_prompts']} unseen in training); temperature {s['temperature']:.4f}"
    )
    typer.echo(f"{'retrieval':<16} {'value':>7} {'chance':>7} {'prior':>7}")
    for k in (1, 5):
        typer.echo(_row(f"image→text R@{k}", *(s[f"image_to_text_r{k}{end}"] for end in ("", "_chance", "_prior"))))
    for k in (1, 5):
        typer.echo(_row(f"text→image R@{k}", s[f"text_to_image_r{k}"], s[f"text_to_image_r{k}_chance"]))
    if s["image_to_text_auroc"] is not None:
        typer.echo(_row("image→text AUROC", s["image_to_text_auroc"], 0.5, s["image_to_text_auroc_prior"]))
    if s["text_to_image_auroc"] is not None:
        typer.echo(_row("text→image AUROC", s["text_to_image_auroc"], 0.5))
    other = "n/a" if s["other_cosine"] is None else f"{s['other_cosine']:.3f}"
    typer.echo(f"held-out cosine: own prompts {s['pair_cosine']:.3f}, other prompts {other}")
    typer.echo(f"saved {s['out']} (+ .json)")


def _row(label: str, value: float, chance: float, prior: float | None = None) -> str:
    return f"{label:<16} {value:>7.3f} {chance:>7.3f}" + ("" if prior is None else f" {prior:>7.3f}")
