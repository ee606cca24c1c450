"""`promptopt render` end to end with typer's CliRunner: an imagefolder that `data stats` reads, resuming, and
one-line errors for bad input."""

import csv
import json
from importlib import resources

import pytest
import torch
from safetensors.torch import save_file
from typer.testing import CliRunner

from promptopt.cli import app

runner = CliRunner()
SMALL = [
    "--model",
    "tiny-random",
    "--steps",
    "2",
    "--height",
    "32",
    "--width",
    "32",
    "--device",
    "cpu",
    "--batch-size",
    "4",
]


def _error_line(result) -> str:
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.fixture
def challenge_prompts(tmp_path):
    """The first three development prompts, in the shipped CSV's own format (prompt,count)."""
    source = resources.files("promptopt").joinpath("data/medvqa-gi-2024-prompts.csv")
    with source.open(encoding="utf-8") as fh:
        rows = [row for row, _ in zip(csv.DictReader(fh), range(3))]
    path = tmp_path / "prompts.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["prompt", "count"])
        writer.writeheader()
        writer.writerows(rows)
    return path, [row["prompt"] for row in rows]


def test_render_then_resume_then_data_stats(challenge_prompts, tmp_path):
    prompts_file, prompts = challenge_prompts
    out = tmp_path / "synthetic"
    first = runner.invoke(
        app, ["render", "--prompts", str(prompts_file), "--out", str(out), "-k", "1", *SMALL, "--json"]
    )
    assert first.exit_code == 0, first.output
    summary = json.loads(first.stdout)
    assert (summary["written"], summary["skipped"]) == (3, 0) and summary["generator"]["model"] == "tiny-random"

    second = runner.invoke(
        app, ["render", "--prompts", str(prompts_file), "--out", str(out), "-k", "2", *SMALL, "--json"]
    )
    assert second.exit_code == 0, second.output
    assert (json.loads(second.stdout)["written"], json.loads(second.stdout)["skipped"]) == (3, 3)
    records = [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]
    assert sorted({r["prompt"] for r in records}) == sorted(prompts) and len(records) == 6
    assert len(list((out / "images").glob("*.png"))) == 6

    stats = runner.invoke(app, ["data", "stats", str(out), "--json"])
    assert stats.exit_code == 0, stats.output
    read = json.loads(stats.stdout)
    assert (read["layout"], read["images"], read["distinct_prompts"]) == ("imagefolder", 6, 3)

    changed = runner.invoke(app, ["render", "--prompts", str(prompts_file), "--out", str(out), *SMALL, "--seed", "1"])
    assert changed.exit_code == 2
    assert "holds images rendered with other settings: seed: 0 there, 1 now" in _error_line(changed)


def test_shards_through_the_cli(challenge_prompts, tmp_path):
    prompts_file, _ = challenge_prompts
    for i in (1, 2):
        args = ["render", "--prompts", str(prompts_file), "--out", str(tmp_path / f"s{i}"), *SMALL, "--shard", f"{i}/2"]
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["written"] == (2 if i == 1 else 1)
    merged = runner.invoke(
        app, ["data", "merge", str(tmp_path / "s1"), str(tmp_path / "s2"), "--out", str(tmp_path / "m")]
    )
    assert merged.exit_code == 0 and "merged 3 images from 2 shards" in merged.output
    again = runner.invoke(
        app, ["data", "merge", str(tmp_path / "s1"), str(tmp_path / "s2"), "--out", str(tmp_path / "m")]
    )
    assert again.exit_code == 2 and "is not empty" in _error_line(again)


def _wrong_shape_lora(path):
    """A LoRA whose first query projection expects 7 input features where the tiny UNet has 64."""
    name = "unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.to_q"
    save_file({f"{name}.lora_A.weight": torch.zeros(4, 7), f"{name}.lora_B.weight": torch.zeros(64, 4)}, path)
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scheduler", "karras"], "unknown generator.scheduler 'karras': choose one of default, ddim"),
        (["--height", "30"], "multiples of 8, got 30x32"),
        (["--dtype", "float16"], "float16 needs a GPU"),
        (["--model", "./models/nope"], "model folder ./models/nope does not exist"),
        (["--lora", "{tmp}/missing.safetensors:0.8"], "missing.safetensors does not exist"),
        (["--lora", "{wrong}"], "does not fit base model tiny-random (its weights have other shapes)"),
        (["--n-per-prompt", "0"], "--n-per-prompt must be at least 1"),
        (["--compile"], "compile needs a CUDA device"),
        (["--shard", "two"], "--shard 'two': write I/N"),
        (["--shard", "0/2"], "--shard 0/2: write I/N with 1 <= I <= N"),
        (["--guidance", "nan"], "--guidance nan: give a finite number"),
        (["--guidance", "inf"], "--guidance inf: give a finite number"),
        (["--guidance", "-5"], "--guidance must be a finite number ≥ 0 (7.5 is usual), got -5.0"),
        (["--seed", "-1"], "'--seed': Input should be greater than or equal to 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(challenge_prompts, tmp_path, args, message):
    if "--compile" in args and torch.cuda.is_available():
        pytest.skip("compile is refused only where there is no CUDA device")
    wrong = _wrong_shape_lora(tmp_path / "wrong.safetensors")
    args = [a.format(tmp=tmp_path, wrong=wrong) for a in args]
    base = ["render", "--prompts", str(challenge_prompts[0]), "--out", str(tmp_path / "out"), *SMALL]
    result = runner.invoke(app, [*base, *args])
    assert result.exit_code == 2, result.output
    line = _error_line(result)
    assert line.startswith("error: ") and message in line
    assert not (tmp_path / "out" / "render_config.json").exists()  # nothing rendered, nothing to resume from


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("prompts.txt", None, "does not exist"),
        ("prompts.txt", "\n", "holds no prompts"),
        ("folder.txt", "", "is a folder: give a .txt, .csv, .json or .jsonl file"),
        ("prompts.json", '[{"prompt": "a polyp", "guidance_scale": Infinity}]', "guidance inf of prompt 'a polyp'"),
    ],
)
def test_missing_empty_or_bad_prompts_file(tmp_path, name, content, message):
    path = tmp_path / name
    if name.startswith("folder"):
        path.mkdir()
    elif content is not None:
        path.write_text(content)
    result = runner.invoke(app, ["render", "--prompts", str(path), "--out", str(tmp_path / "out"), *SMALL])
    assert result.exit_code == 2 and message in _error_line(result)


def test_out_of_memory_at_one_image_is_one_line(challenge_prompts, tmp_path, monkeypatch):
    from promptopt.study import factory

    real = factory.generator_for

    def no_memory(cfg):
        generator = real(cfg)

        def oom(*args, **kwargs):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory.\nTried to allocate 2.00 GiB")

        generator.pipe = oom
        return generator

    monkeypatch.setattr(factory, "generator_for", no_memory)
    with pytest.warns(RuntimeWarning, match="retrying with batches of"):
        result = runner.invoke(app, ["render", "--prompts", str(challenge_prompts[0]), "--out", str(tmp_path), *SMALL])
    assert result.exit_code == 2 and "out of memory rendering a single 32x32 image" in _error_line(result)


def test_study_generator_settings_apply_and_flags_override_them(study_toml, tmp_path):
    """--study takes [generator] from a study TOML (here 32x32 on the CPU); a flag given wins over it."""
    prompts = tmp_path / "p.txt"
    prompts.write_text("Generate an image with a polyp.\n")
    args = ["render", "--prompts", str(prompts), "--study", str(study_toml), "--steps", "2", "--json"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "a"), "--scheduler", "euler"])
    assert result.exit_code == 0, result.output
    generator = json.loads(result.stdout)["generator"]
    assert (generator["scheduler_class"], generator["device"]) == ("EulerDiscreteScheduler", "cpu")
    record = json.loads((tmp_path / "a" / "metadata.jsonl").read_text())
    assert (record["height"], record["width"]) == (32, 32)


def test_rerank_sampling_renders_with_a_clip_model(challenge_prompts, tmp_path):
    from promptopt.scorers.tiny_clip import write_tiny_clip

    prompts_file, _ = challenge_prompts
    clip = write_tiny_clip(tmp_path / "clip")
    out = tmp_path / "out"
    args = ["render", "--prompts", str(prompts_file), "-k", "1", "--out", str(out), *SMALL]
    result = runner.invoke(app, [*args, "--sampling", "rerank", "--clip-model", str(clip)])
    assert result.exit_code == 0, result.output
    record = json.loads((out / "metadata.jsonl").read_text().splitlines()[0])
    assert record["generator"]["sampling"] == "rerank"
    result = runner.invoke(app, [*args, "--sampling", "clip-guided"])
    assert result.exit_code == 2
    assert "needs generator.clip_model" in _error_line(result)


@pytest.mark.parametrize("name", ["metadata.jsonl", "images"])
def test_resuming_into_a_folder_with_a_symlink_out_of_it_is_refused(challenge_prompts, tmp_path, name):
    """Before: the render followed the link and appended to, or wrote into, what it pointed at."""
    out = tmp_path / "out"
    first = runner.invoke(app, ["render", "--prompts", str(challenge_prompts[0]), "--out", str(out), *SMALL])
    assert first.exit_code == 0, first.output
    outside = tmp_path / "outside"
    (out / name).rename(outside)
    (out / name).symlink_to(outside)
    before = sorted(p.name for p in outside.iterdir()) if outside.is_dir() else outside.read_bytes()
    args = ["render", "--prompts", str(challenge_prompts[0]), "--out", str(out), "-k", "2", *SMALL]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and f"{name} is a symbolic link" in _error_line(result)
    assert (sorted(p.name for p in outside.iterdir()) if outside.is_dir() else outside.read_bytes()) == before


@pytest.fixture
def damaged_model(tmp_path):
    """The tiny pipeline's folder with its UNet weights cut short, as an interrupted copy leaves it."""
    import shutil

    from promptopt.core.paths import cache_dir
    from promptopt.generators.tiny import tiny_pipeline_dir

    folder = tmp_path / "damaged-model"
    shutil.copytree(tiny_pipeline_dir(cache_dir()), folder)
    (weights,) = (folder / "unet").glob("*.safetensors")
    weights.write_bytes(weights.read_bytes()[:4000])
    return folder


@pytest.mark.parametrize("command", ["render", "train"])
def test_a_damaged_model_folder_is_one_line_and_leaves_nothing(command, damaged_model, challenge_prompts, tmp_path):
    """Before: a traceback, and train left its train_config.toml, so the corrected rerun was refused."""
    out = tmp_path / "out"
    if command == "render":
        args = ["render", "--prompts", str(challenge_prompts[0]), "--out", str(out), "--model", str(damaged_model)]
    else:
        args = ["train", "--data", "gi-sim", "--base", str(damaged_model), "--out", str(out), "--max-train-steps", "1"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert f"model folder {damaged_model} cannot be loaded" in _error_line(result)
    assert "a weight file is damaged or incomplete" in _error_line(result)
    assert not out.exists()


def test_a_truncated_judge_file_is_one_line(tmp_path):
    from PIL import Image

    from promptopt.scorers.assets import shipped_model

    judge = shipped_model("judge")
    cut = tmp_path / "judge.safetensors"
    cut.write_bytes(judge.read_bytes()[:100_000])
    (tmp_path / "judge.json").write_bytes(judge.with_suffix(".json").read_bytes())
    Image.new("RGB", (64, 64)).save(tmp_path / "x.png")
    result = runner.invoke(app, ["classify", str(tmp_path / "x.png"), "--judge", str(cut)])
    assert result.exit_code == 2 and "cannot be loaded (Error while deserializing" in _error_line(result)
