import csv
import json
import socket
import subprocess
import sys

import pytest
from PIL import Image

from promptopt.core.errors import InputError
from promptopt.core.paths import RunPaths
from promptopt.search.export import export_study, finalist_trials
from promptopt.search.loop import run_search
from promptopt.search.seeds import export_seeds
from promptopt.search.study_open import open_study
from promptopt.study.config import from_dict


@pytest.fixture(scope="module")
def finished(tmp_path_factory, build, make_study_dict, reference):
    cfg = from_dict(make_study_dict(str(reference), n_trials=4))
    paths = RunPaths(tmp_path_factory.mktemp("export") / "run")
    generator, scorers, mutator, realism = build(cfg)
    study = open_study(cfg, paths)
    run_search(cfg, paths, study, generator=generator, scorers=scorers, mutator=mutator)
    return cfg, paths, study, generator, realism


def test_export_ranks_distinct_prompts_best_first(finished):
    cfg, paths, study, generator, realism = finished
    result = export_study(cfg, paths, study, generator=None)
    rows = json.loads((paths.export / "opg_prompts.json").read_text())
    assert rows == result.rows
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1)) and len(rows) <= cfg.export.top_k
    values = [r["objective_quality"] for r in rows]
    assert values == sorted(values, reverse=True)
    assert len({r["prompt"] for r in rows}) == len(rows)
    best = study.best_trial
    assert rows[0]["trial"] == best.number and rows[0]["objective_quality"] == pytest.approx(best.value)
    with (paths.export / "opg_prompts.csv").open() as fh:
        csv_rows = list(csv.DictReader(fh))
    assert [r["prompt"] for r in csv_rows] == [r["prompt"] for r in rows]
    assert set(csv_rows[0]) >= {"category", "rank", "prompt", "negative_prompt", "guidance_scale", "steps", "score_kid"}


def test_export_dataset_is_an_imagefolder_with_metadata(finished):
    cfg, paths, study, generator, realism = finished
    result = export_study(cfg, paths, study, generator=generator, realism=realism)
    dataset = paths.export / "dataset"
    lines = [json.loads(x) for x in (dataset / "metadata.jsonl").read_text().splitlines()]
    assert len(lines) == result.n_images == len(result.rows) * cfg.export.images_per_prompt
    for line in lines:
        assert Image.open(dataset / line["file_name"]).size == (32, 32)
        assert line["seed"] in export_seeds(cfg)
        assert set(line) >= {"file_name", "prompt", "negative_prompt", "seed", "generator", "prompt_scores"}
    assert not set(export_seeds(cfg)) & set(cfg.study.eval_seeds)
    from promptopt import grammar
    from promptopt.datasets.layouts import load_dataset

    loaded = load_dataset(dataset)
    assert len(loaded.items) == len(lines)
    assert all("polyp" in grammar.categories(item.labels) for item in loaded.items)
    summary = json.loads((paths.export / "summary.json").read_text())
    assert summary["images"] == len(lines)
    assert summary["dataset_realism"]["n_fake"] == len(lines) and "biased" in summary["dataset_realism"]["note"]
    assert "needs more than 5" in summary["dataset_realism"]["prdc"]["not_computed"]  # 4 images, k = 5
    assert summary["dataset_realism"]["memorisation"]["near_copies"] >= 0
    assert summary["generator"]["model"] == "tiny-random"


def test_export_summary_has_prdc_and_near_copies_on_the_same_features(finished):
    from promptopt.core.images import image_files, load_images
    from promptopt.scorers.memorisation import near_copies
    from promptopt.scorers.prdc import prdc

    cfg, paths, study, generator, realism = finished
    per_prompt = -(-6 // len(finalist_trials(cfg, study)))  # at least 6 images: more than PRDC's k = 5
    cfg = cfg.with_export(images_per_prompt=per_prompt)
    export_study(cfg, paths, study, generator=generator, realism=realism)
    fake = realism.features(load_images(image_files(paths.export / "dataset" / "images")))
    summary = json.loads((paths.export / "summary.json").read_text())["dataset_realism"]
    assert summary["prdc"] == pytest.approx({"k": 5, **prdc(realism.reference, fake, k=5)})
    copies = near_copies(fake, realism.reference)
    assert summary["memorisation"]["near_copies"] == len(copies.indices)
    assert summary["memorisation"]["threshold"] == pytest.approx(copies.threshold)
    assert summary["memorisation"]["fraction"] == pytest.approx(len(copies.indices) / len(fake))
    assert {"fid", "kid", "kid_std", "n_real", "n_fake", "note"} <= set(summary)


def test_interrupted_export_keeps_the_previous_one(finished):
    cfg, paths, study, generator, _ = finished
    export_study(cfg, paths, study, generator=None)
    before = (paths.export / "opg_prompts.csv").read_bytes()

    class Dying:
        identity = {"model": "x"}

        def render(self, *args, **kwargs):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        export_study(cfg, paths, study, generator=Dying())
    assert (paths.export / "opg_prompts.csv").read_bytes() == before
    assert sorted(p.name for p in paths.root.iterdir() if p.name.startswith(".")) == []


def test_export_removes_what_a_killed_export_left(finished):
    cfg, paths, study, _, _ = finished
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    leftover = paths.root / f".export.staging-{socket.gethostname()}-{int(ended.stdout)}-x1y2"  # SIGKILL mid-export
    (leftover / "dataset").mkdir(parents=True)
    export_study(cfg, paths, study, generator=None)
    assert not leftover.exists() and (paths.export / "opg_prompts.csv").is_file()


def test_export_without_complete_trials_is_an_input_error(small_cfg, tmp_path):
    paths = RunPaths(tmp_path / "run")
    study = open_study(small_cfg, paths)
    with pytest.raises(InputError, match="no complete trial"):
        export_study(small_cfg, paths, study, generator=None)
