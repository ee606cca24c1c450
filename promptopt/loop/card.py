"""The model card of a tuned adapter: `README.md` beside `pytorch_lora_weights.safetensors`, with the YAML front
matter the Hugging Face Hub reads (`base_model`, `tags`, `library_name`), so `huggingface-cli upload` publishes the
folder as it is, and in the text what it was trained on, what it draws before and after, and the guards."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from promptopt.core import atomic

CARD_FILE = "README.md"


def write_card(adapter: Path, record: dict[str, Any], check: dict[str, Any] | None, base_model: str) -> Path:
    """`adapter`/README.md from the tune's record (tune.json) and its check (guards.json; None: not checked)."""
    targets = ", ".join(t["text"] for t in record["targets"])
    settings = record["settings"]
    lines = [
        "---",
        f"base_model: {base_model}",
        "library_name: diffusers",
        "tags:",
        *(f"- {tag}" for tag in ("lora", "text-to-image", "diffusers", "promptopt", "medvqa-gi", "synthetic-data")),
        "---",
        "",
        f"# A LoRA that teaches {base_model} to draw {targets}",
        "",
        f"Made by `promptopt tune` (promptopt's generation loop). Load it with plain diffusers: "
        f"`pipe.load_lora_weights('{adapter.name}')` on a pipeline of `{base_model}`.",
        "",
        "## Training",
        "",
        f"- data: {record['data']} ({record['examples']} examples: the images that show a target repeated to "
        f"{settings['per_target']} per target, captioned by the prompts that state it, and {record['others']} other "
        "images with their own prompts, so the model keeps its other skills)",
        *(f"- images that show {slug}: {len(paths)}" for slug, paths in record["target_images"].items()),
        f"- LoRA rank {settings['rank']} (alpha = rank) on the UNet's {settings['modules']}, {record.get('steps')} "
        f"steps of batch {settings['batch_size']} at learning rate {settings['learning_rate']}, seed {settings['seed']}",
        "",
    ]
    if check is not None:
        lines += _checked(check)
    text = "\n".join(lines) + "\n"
    atomic.write_text(adapter / CARD_FILE, text)
    return adapter / CARD_FILE


def _checked(check: dict[str, Any]) -> list[str]:
    """The card's audit and guards sections."""
    before = {row["clause"]: row for row in check["audit"]["base"]}
    rows = [
        f"| {row['clause']} | {before[row['clause']]['hit_rate']:.2f} | {row['hit_rate']:.2f} |"
        + (" |" if row["checkable"] else " cannot be checked by this judge |")
        for row in check["audit"]["tuned"]
        if row["clause"] in before
    ]
    guards = [f"- {g['name']}: {'passed' if g['passed'] else 'FAILED'} ({g['detail']})" for g in check["guards"]]
    verdict = "passed every guard" if check["passed"] else "failed a guard: promptopt does not submit it"
    return [
        "## What it draws",
        "",
        f"Hit rate of each single-clause prompt on {check['images']} fresh seeds, read by the judge, base → tuned:",
        "",
        "| clause | base | tuned | |",
        "|---|---|---|---|",
        *rows,
        "",
        f"## Guards ({verdict})",
        "",
        *guards,
        "",
    ]
