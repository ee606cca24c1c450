"""The resumable render loop behind `promptopt render`: prompt files, seeds, settings checks, crash repair."""

import hashlib
import json

import numpy as np
import pytest
from PIL import Image

from promptopt.core.errors import InputError
from promptopt.datasets.prompt_files import PromptSpec, read_prompts, resolve_prompts
from promptopt.generators.base import GeneratorConfig
from promptopt.render.imagefolder import (
    CONFIG_FILE,
    METADATA_FILE,
    RenderJob,
    check_settings,
    image_name,
    image_seed,
    render_folder,
)

CFG = GeneratorConfig(height=32, width=32, device="cpu", batch_size=3)


@pytest.fixture(scope="module")
def generator():
    from promptopt.study.factory import generator_for

    return generator_for(CFG)


def _job(prompts=("Generate an image with a polyp.", "Generate an image with no polyps."), k=2, steps=2, **changes):
    specs = resolve_prompts(
        tuple(PromptSpec(p) for p in prompts), negative_prompt=None, guidance_scale=3.0, steps=steps
    )
    return RenderJob(specs, k, changes.pop("seed", 0), changes.pop("cfg", CFG))


def _records(out):
    return [json.loads(line) for line in (out / METADATA_FILE).read_text().splitlines()]


def _px(path):
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.int16)


def test_image_seed_is_the_documented_pure_function():
    digest = hashlib.sha256(b"7/3/2").digest()
    assert image_seed(7, 3, 2) == int.from_bytes(digest[:8], "big") >> 1
    seeds = {image_seed(s, i, j) for s in range(3) for i in range(20) for j in range(20)}
    assert len(seeds) == 3 * 20 * 20 and max(seeds) < 2**63


def test_prompt_files(tmp_path):
    (tmp_path / "p.txt").write_text("a polyp\n\n  z-line  \n")
    assert [s.prompt for s in read_prompts(tmp_path / "p.txt")] == ["a polyp", "z-line"]
    (tmp_path / "p.csv").write_text('Prompt,count\na polyp,3\n,1\n"tube, long",2\n')
    assert [s.prompt for s in read_prompts(tmp_path / "p.csv")] == ["a polyp", "tube, long"]
    rows = [{"prompt": "a polyp", "negative_prompt": "blurry", "guidance_scale": 5.5, "steps": 4, "rank": 1}, "z-line"]
    (tmp_path / "opg_prompts.json").write_text(json.dumps(rows))
    assert read_prompts(tmp_path / "opg_prompts.json") == (
        PromptSpec("a polyp", "blurry", 5.5, 4),
        PromptSpec("z-line"),
    )


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("missing.txt", None, "does not exist"),
        ("empty.txt", "\n \n", "holds no prompts"),
        ("p.csv", "caption\na polyp\n", "no 'prompt' column"),
        ("p.json", "{not json", "not valid JSON"),
        ("p.json", '{"prompt": "a"}', "must hold a JSON list"),
        ("p.json", '[{"prompt": "a", "steps": "many"}]', "not a number"),
    ],
)
def test_bad_prompt_files_are_input_errors(tmp_path, name, text, message):
    if text is not None:
        (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=message):
        read_prompts(tmp_path / name)


def test_flags_override_the_file_which_overrides_the_defaults():
    specs = (PromptSpec("a", "blurry", 5.5, 4), PromptSpec("b"))
    assert resolve_prompts(specs, negative_prompt=None, guidance_scale=None, steps=None) == (
        PromptSpec("a", "blurry", 5.5, 4),
        PromptSpec("b", None, 7.5, 20),
    )
    assert resolve_prompts(specs, negative_prompt="", guidance_scale=2.0, steps=3) == (
        PromptSpec("a", None, 2.0, 3),
        PromptSpec("b", None, 2.0, 3),
    )


def test_render_writes_an_imagefolder_with_the_images_the_generator_makes(generator, tmp_path):
    job = _job()
    summary = render_folder(job, tmp_path, generator)
    assert (summary.written, summary.skipped, summary.total) == (4, 0, 4)
    records = _records(tmp_path)
    assert [r["file_name"] for r in records] == [image_name(i, j) for i in range(2) for j in range(2)]
    direct = generator.render([r["prompt"] for r in records], [r["seed"] for r in records], guidance_scale=3.0, steps=2)
    for record, image in zip(records, direct):
        assert record["seed"] == image_seed(0, record["prompt_index"], record["image_index"])
        assert record["generator"] == generator.identity and record["steps"] == 2
        assert (_px(tmp_path / record["file_name"]) == np.asarray(image, dtype=np.int16)).all()
    assert json.loads((tmp_path / CONFIG_FILE).read_text())["settings"] == job.settings()


def test_per_prompt_settings_from_the_file_are_used(generator, tmp_path):
    specs = (PromptSpec("a polyp", "blurry", 2.0, 2), PromptSpec("tube", None, 6.0, 3))
    job = RenderJob(resolve_prompts(specs, negative_prompt=None, guidance_scale=None, steps=None), 1, 0, CFG)
    render_folder(job, tmp_path, generator)
    for record, spec in zip(_records(tmp_path), specs):
        expected = generator.render(
            [spec.prompt],
            [record["seed"]],
            negative_prompt=spec.negative_prompt,
            guidance_scale=spec.guidance_scale,
            steps=spec.steps,
        )[0]
        assert (record["negative_prompt"], record["guidance_scale"], record["steps"]) == (
            spec.negative_prompt,
            spec.guidance_scale,
            spec.steps,
        )
        assert (_px(tmp_path / record["file_name"]) == np.asarray(expected, dtype=np.int16)).all()


def test_resume_skips_what_is_there_and_repairs_what_a_crash_leaves(generator, tmp_path):
    render_folder(_job(), tmp_path, generator)
    first = {r["file_name"]: _px(tmp_path / r["file_name"]) for r in _records(tmp_path)}
    lines = (tmp_path / METADATA_FILE).read_text().splitlines(keepends=True)
    # a kill between writing an image and its metadata line, another mid-way through the line, and a temp file
    (tmp_path / METADATA_FILE).write_text("".join(lines[:2]) + lines[2][:40])
    (tmp_path / "images" / ".00001_001.png.abc.tmp").write_bytes(b"half a png")
    summary = render_folder(_job(), tmp_path, generator)
    assert (summary.written, summary.skipped) == (2, 2)
    records = _records(tmp_path)
    assert sorted(r["file_name"] for r in records) == sorted(first)
    kept, again = [r["file_name"] for r in records[:2]], [r["file_name"] for r in records[2:]]
    assert all((_px(tmp_path / name) == first[name]).all() for name in kept)
    # the two re-rendered images came from another batch composition: batched float arithmetic may move a
    # pixel value by one level (docs/render.md), never more
    assert all(np.abs(_px(tmp_path / name) - first[name]).max() <= 1 for name in again)
    assert not list((tmp_path / "images").glob(".*"))
    # one more prompt: only its images are rendered, the old ones stay
    bigger = _job(prompts=("Generate an image with a polyp.", "Generate an image with no polyps.", "z-line"))
    summary = render_folder(bigger, tmp_path, generator)
    assert (summary.written, summary.skipped) == (2, 4)
    assert len(_records(tmp_path)) == 6
    # a run over the first prompt only still checks against (and keeps) the longer prompt list
    render_folder(_job(prompts=("Generate an image with a polyp.",), k=1), tmp_path, generator)
    assert len(json.loads((tmp_path / CONFIG_FILE).read_text())["settings"]["prompts"]) == 3


def test_a_run_with_other_settings_is_refused_naming_the_setting(generator, tmp_path):
    render_folder(_job(), tmp_path, generator)
    with pytest.raises(InputError, match=r"prompts\[0\].steps: 2 there, 3 now"):
        check_settings(tmp_path, _job(steps=3))
    with pytest.raises(InputError, match=r"^\S+ holds images rendered with other settings: seed: 0 there, 1 now;"):
        check_settings(tmp_path, _job(seed=1))
    with pytest.raises(InputError, match=r"generator.scheduler: \"default\" there, \"ddim\" now"):
        check_settings(tmp_path, _job(cfg=GeneratorConfig(height=32, width=32, device="cpu", scheduler="ddim")))
    with pytest.raises(InputError, match=r"prompts\[1\].prompt"):
        check_settings(tmp_path, _job(prompts=("Generate an image with a polyp.", "z-line")))
    retrained = {**generator.identity, "model_hash": "0" * 16}
    with pytest.raises(InputError, match="model.model_hash"):
        check_settings(tmp_path, _job(), retrained)
    check_settings(tmp_path, _job(cfg=GeneratorConfig(height=32, width=32, device="cpu", batch_size=1)))  # runtime only
    check_settings(tmp_path, _job(k=5), {**generator.identity, "device": "cuda", "dtype": "bfloat16"})


def test_two_shards_merged_equal_one_run(generator, tmp_path):
    import dataclasses

    from promptopt.render.merge import merge_renders

    whole = _job(prompts=("Generate an image with a polyp.", "Generate an image with no polyps.", "z-line"), k=3)
    render_folder(whole, tmp_path / "one", generator)
    for i in (1, 2):
        shard = dataclasses.replace(whole, shard=(i, 2))
        assert render_folder(shard, tmp_path / f"shard{i}", generator).total == (5 if i == 1 else 4)
    assert merge_renders(tmp_path / "merged", [tmp_path / "shard1", tmp_path / "shard2"]) == 9
    one, merged = _records(tmp_path / "one"), _records(tmp_path / "merged")
    assert merged == one  # same names, seeds, prompts and order
    # other batch compositions: batched float arithmetic may move a pixel value by one level, never more
    for record in one:
        assert (
            np.abs(_px(tmp_path / "merged" / record["file_name"]) - _px(tmp_path / "one" / record["file_name"])).max()
            <= 1
        )
    assert render_folder(whole, tmp_path / "merged", generator).written == 0  # a render resumes into it: complete


def test_shard_and_merge_bad_input(generator, tmp_path):
    import dataclasses

    from promptopt.commands.render import parse_shard
    from promptopt.render.merge import merge_renders

    for text in ("2", "a/b", "1-2"):
        with pytest.raises(InputError, match="write I/N"):
            parse_shard(text)
    with pytest.raises(InputError, match="1 <= I <= N"):
        dataclasses.replace(_job(), shard=(3, 2))
    render_folder(dataclasses.replace(_job(), shard=(1, 2)), tmp_path / "a", generator)
    render_folder(dataclasses.replace(_job(seed=1), shard=(2, 2)), tmp_path / "b", generator)
    with pytest.raises(InputError, match="other settings"):
        merge_renders(tmp_path / "m", [tmp_path / "a", tmp_path / "b"])
    with pytest.raises(InputError, match="no readable"):
        merge_renders(tmp_path / "m", [tmp_path / "a", tmp_path])
    with pytest.raises(InputError, match=r"given twice .*: name each shard folder once"):
        merge_renders(tmp_path / "m", [tmp_path / "a", tmp_path / "b" / ".." / "a"])
    assert not (tmp_path / "m").exists()
