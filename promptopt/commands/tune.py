"""`promptopt tune`: teach a generator what it does not draw, then check it (`promptopt.loop.run`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from promptopt.commands.folders import check_writable
from promptopt.commands.options import json_option
from promptopt.commands.output import print_json, task_progress


def tune(
    target: list[str] = typer.Option(
        ..., "--target", "-t", help="What to teach, as --target reads it: 'instrument: metal clip' (repeatable)."
    ),
    out: Path = typer.Option(..., "--out", help="Adapter folder: pytorch_lora_weights.safetensors, README.md, …"),
    data: str = typer.Option("gi-sim", "--data", help="Training images: a dataset folder, or gi-sim."),
    gi_sim_images: int = typer.Option(
        3000, "--gi-sim-images", min=1, help="Images of --data gi-sim (3000: the ones gi-sim-tiny learnt from)."
    ),
    base: str = typer.Option("gi-sim-tiny", "--base", help="Model to tune: gi-sim-tiny, a pipeline folder, …"),
    steps: Optional[int] = typer.Option(None, "--steps", min=1, help="Optimizer steps (default: 1500)."),
    rank: Optional[int] = typer.Option(None, "--rank", min=1, help="LoRA rank (default: 32)."),
    modules: Optional[str] = typer.Option(None, "--modules", help="attention or attention+conv."),
    learning_rate: Optional[float] = typer.Option(
        None, "--learning-rate", min=0.0, help="Constant learning rate (default: 5e-4)."
    ),
    per_target: Optional[int] = typer.Option(
        None, "--per-target", min=1, help="Examples of each target: its images repeated to this many (default: 200)."
    ),
    others: Optional[int] = typer.Option(
        None, "--others", min=0, help="Other images, keeping the other skills (default: 3000, all of them)."
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed of the image sample and the training."),
    device: str = typer.Option("auto", "--device", help="auto, cpu, cuda or cuda:N."),
    check: bool = typer.Option(True, "--check/--no-check", help="Audit base and tuned model and apply the guards."),
    audit_images: int = typer.Option(24, "--audit-images", min=2, help="Renders a clause in the check."),
    judge: str = typer.Option("gi-sim", "--judge", help="gi-sim (shipped) or a .safetensors from promptopt fit judge."),
    reference: str = typer.Option("gi-sim", "--reference", help="Realism reference folder (or gi-sim)."),
    as_json: bool = json_option("the tune record and its check"),
) -> None:
    """Teach a model what it does not draw (a targeted LoRA).

    The images that show each target are oversampled and captioned by what states the target; other images keep
    the model's other skills. Then (--check) the base and the tuned model are audited on every single-clause
    prompt, and the guards say whether anything drawn before is forgotten, whether the target's renders copy its
    few training images, and whether realism (KID) held. Run the same command again to resume."""
    import dataclasses

    from promptopt.judge.targets import parse_target
    from promptopt.loop.run import tune_and_check
    from promptopt.loop.tune import TuneConfig

    chosen = {"steps": steps, "rank": rank, "modules": modules, "learning_rate": learning_rate,
              "per_target": per_target, "others": others}  # fmt: skip
    cfg = dataclasses.replace(
        TuneConfig(base=base, data=data, gi_sim_images=gi_sim_images, seed=seed, device=device),
        **{k: v for k, v in chosen.items() if v is not None},
    )
    targets = [parse_target(text) for text in target]
    check_writable(out)
    with task_progress(quiet=as_json, transient=True) as progress:
        done = tune_and_check(
            targets, cfg, out, judge_spec=judge, audit_images=audit_images, reference=reference, check=check,
            on_step=lambda r: progress("tune", r.step, r.max_steps), progress=progress,
        )  # fmt: skip
    if as_json:
        print_json(done)
    else:
        _print(out, done)


def _print(out: Path, done: dict[str, Any]) -> None:
    record, checked = done["tune"], done["check"]
    typer.echo(
        f"adapter: {out / 'pytorch_lora_weights.safetensors'} ({record['examples']} examples, model card README.md)"
    )
    if checked is None:
        typer.echo("not checked (--no-check): run promptopt tune again without it before using the adapter")
        return
    for guard in checked["guards"]:
        typer.echo(f"{guard['name']}: {'passed' if guard['passed'] else 'FAILED'}: {guard['detail']}")
    typer.echo("the adapter passed every guard" if checked["passed"] else "the adapter failed a guard: do not use it")
