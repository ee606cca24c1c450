from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from promptopt.cli import app

runner = CliRunner()
SNARE = "Generate an image containing polyp snareandtube."
NO_POLYPS = "Generate an image with no polyps."


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines()]


def test_parse_prints_one_json_object_per_prompt() -> None:
    result = runner.invoke(app, ["parse", SNARE, NO_POLYPS, "--json"])
    assert result.exit_code == 0, result.output
    assert _lines(result.stdout) == [
        {"prompt": SNARE, "attributes": {"instruments": ["polyp snare", "tube"]}, "categories": ["instrument"]},
        {"prompt": NO_POLYPS, "attributes": {"polyp_count": 0}, "categories": []},
    ]


def test_parse_reports_an_unreadable_prompt_on_its_line_and_exits_1() -> None:
    result = runner.invoke(app, ["parse", "Generate a unicorn.", SNARE, "--json"])
    assert result.exit_code == 1
    bad, good = _lines(result.stdout)
    assert bad["prompt"] == "Generate a unicorn." and "cannot read 'unicorn.'" in bad["error"]
    assert good["categories"] == ["instrument"]


def test_parse_reads_every_bundled_challenge_prompt() -> None:
    csv_file = resources.files("promptopt").joinpath("data/medvqa-gi-2024-prompts.csv")
    with resources.as_file(csv_file) as path:
        result = runner.invoke(app, ["parse", "--file", str(path), "--json"])
    assert result.exit_code == 0, result.output
    records = _lines(result.stdout)
    assert len(records) == 372 and all("attributes" in record for record in records)


def test_parse_reads_text_files_and_csv_files_with_a_prompt_column(tmp_path: Path) -> None:
    (tmp_path / "prompts.txt").write_text(f"{SNARE}\n\n{NO_POLYPS}\n", encoding="utf-8")
    (tmp_path / "prompts.csv").write_text(f'id,Prompt\n1,"{SNARE}"\n', encoding="utf-8")
    text = runner.invoke(app, ["parse", "--file", str(tmp_path / "prompts.txt"), "--json"])
    table = runner.invoke(app, ["parse", "--file", str(tmp_path / "prompts.csv")])
    assert [record["prompt"] for record in _lines(text.stdout)] == [SNARE, NO_POLYPS]
    assert table.exit_code == 0 and "polyp snare, tube" in table.stdout and "instrument" in table.stdout


def test_parse_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "no-prompt.csv").write_text("text\nx\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("\n", encoding="utf-8")
    for args, fragment in (
        (["parse", "--file", str(tmp_path / "empty.txt")], "empty.txt holds no prompts"),
        (["parse", "--file", str(tmp_path / "missing.txt")], "missing.txt does not exist"),
        (["parse", "--file", str(tmp_path / "no-prompt.csv")], "no 'prompt' column"),
        (["parse"], "no prompts"),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2
        assert result.stderr.startswith("error: ") and fragment in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


def _dataset(root: Path, rows: list[str]) -> Path:
    (root / "images").mkdir()
    for name in ("a.jpg", "b.jpg"):
        Image.new("RGB", (8, 8)).save(root / "images" / name)
    (root / "prompt-gt.csv").write_text("\n".join(["Prompt;Filename", *rows]) + "\n", encoding="utf-8")
    return root


def test_data_stats_json(tmp_path: Path) -> None:
    root = _dataset(tmp_path, [f"{SNARE};a.jpg", f"{NO_POLYPS};a.jpg", f"{NO_POLYPS};b.jpg"])
    result = runner.invoke(app, ["data", "stats", str(root), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert (summary["images"], summary["prompts"], summary["distinct_prompts"]) == (2, 3, 2)
    assert summary["labels"]["polyp_count"] == {"0": 2}
    assert summary["categories"] == {"instrument": 1, "landmark": 0, "polyp": 0}
    assert summary["skipped"] == {"count": 0, "first": []}
    assert len(summary["warnings"]) == 3


def test_data_stats_tables_show_counts_and_warnings(tmp_path: Path) -> None:
    result = runner.invoke(app, ["data", "stats", str(_dataset(tmp_path, [f"{SNARE};a.jpg"]))])
    assert result.exit_code == 0, result.output
    for fragment in ("images per category", "instrument", "polyp snare", "warning: category 'landmark' has 0"):
        assert fragment in result.stdout


def test_data_stats_bad_row_exits_2_and_skip_bad_reports_it(tmp_path: Path) -> None:
    root = _dataset(tmp_path, [f"{SNARE};a.jpg", "Generate a unicorn.;b.jpg"])
    failed = runner.invoke(app, ["data", "stats", str(root)])
    assert failed.exit_code == 2
    assert failed.stderr.startswith("error: ") and "prompt-gt.csv: row 2: cannot read 'unicorn.'" in failed.stderr
    skipped = runner.invoke(app, ["data", "stats", str(root), "--skip-bad", "--json"])
    assert skipped.exit_code == 0, skipped.output
    summary = json.loads(skipped.stdout)
    assert summary["images"] == 1 and summary["skipped"]["count"] == 1
    assert "row 2" in summary["skipped"]["first"][0]
    tables = runner.invoke(app, ["data", "stats", str(root), "--skip-bad"])
    assert "skipped 1 problem(s)" in tables.stdout
