from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from promptopt.core.errors import InputError
from promptopt.datasets.layouts import MIN_IMAGES_PER_CATEGORY, load_dataset, summarise

POLYP = "Generate an image containing a polyp."
ONE_POLYP = "Generate an image with 1 polyp."
TEXT = "Generate an image containing text."
TUBE = "Generate an image containing polyp snareandtube."


def _image(path: Path, suffix: str = "JPEG") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (8, 8), (200, 80, 90)).save(path, suffix)


def _challenge(root: Path, rows: list[tuple[str, str]], images: tuple[str, ...] = ("a.jpg", "b.jpg")) -> Path:
    for name in images:
        _image(root / "images" / name)
    lines = ["Prompt;Filename", *(f"{prompt};{name}" for prompt, name in rows)]
    (root / "prompt-gt.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_challenge_layout_groups_prompts_per_image(tmp_path: Path) -> None:
    root = _challenge(tmp_path, [(POLYP, "a.jpg"), (TEXT, "b.jpg"), (ONE_POLYP, "a.jpg")])
    dataset = load_dataset(root)
    assert dataset.layout == "challenge" and dataset.root == root and dataset.skipped == ()
    assert [item.file_name for item in dataset.items] == ["a.jpg", "b.jpg"]
    first = dataset.items[0]
    assert first.image == root / "images" / "a.jpg"
    assert first.prompts == (POLYP, ONE_POLYP)
    assert first.labels == {"findings": ["polyp"], "polyp_count": 1}
    assert dataset.items[1].labels == {"text": True}
    assert load_dataset(root / "prompt-gt.csv") == dataset


def test_column_names_for_a_layout_without_columns_are_refused(tmp_path: Path) -> None:
    root = _challenge(tmp_path, [(POLYP, "a.jpg")], images=("a.jpg",))
    with pytest.raises(InputError, match="--prompt-column name a CSV's columns, but .* is the challenge layout"):
        load_dataset(root, prompt_column="nope")


def test_csv_layout_detects_kvasir_columns_and_adds_the_image_suffix(tmp_path: Path) -> None:
    _image(tmp_path / "images" / "cl8k2u1.jpg")
    (tmp_path / "llm_gens.csv").write_text(f'img_id,caption\ncl8k2u1,"{TUBE}"\ncl8k2u1,{TEXT}\n', encoding="utf-8")
    dataset = load_dataset(tmp_path)
    assert dataset.layout == "csv"
    (item,) = dataset.items
    assert item.file_name == "cl8k2u1.jpg" and item.image == tmp_path / "images" / "cl8k2u1.jpg"
    assert item.labels == {"instruments": ["polyp snare", "tube"], "text": True}


def test_csv_layout_takes_column_names_from_the_caller(tmp_path: Path) -> None:
    _image(tmp_path / "x.png", "PNG")
    (tmp_path / "pairs.csv").write_text(f"description;picture\n{POLYP};x.png\n", encoding="utf-8")
    with pytest.raises(InputError, match="no prompt column .*name it with --prompt-column"):
        load_dataset(tmp_path)
    dataset = load_dataset(tmp_path / "pairs.csv", prompt_column="description", image_column="Picture")
    assert [(item.file_name, item.labels) for item in dataset.items] == [("x.png", {"findings": ["polyp"]})]


@pytest.mark.parametrize("image_folder", ["", "images"])
def test_imagefolder_layout_reads_metadata_jsonl(tmp_path: Path, image_folder: str) -> None:
    _image(tmp_path / image_folder / "0001.png", "PNG")
    _image(tmp_path / image_folder / "0002.png", "PNG")
    records = [{"file_name": "0001.png", "prompt": TEXT, "seed": 1}, {"file_name": "0002.png", "prompt": POLYP}]
    (tmp_path / "metadata.jsonl").write_text("\n".join(map(json.dumps, records)) + "\n\n", encoding="utf-8")
    dataset = load_dataset(tmp_path)
    assert dataset.layout == "imagefolder"
    assert [(item.file_name, item.prompts) for item in dataset.items] == [("0001.png", (TEXT,)), ("0002.png", (POLYP,))]
    assert dataset.items[1].image == tmp_path / image_folder / "0002.png"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda root: root / "nothing-here", "no such file or folder"),
        (lambda root: _write(root / "prompt-gt.csv", f"Prompt,Filename\n{POLYP},a.jpg\n"), "save it with ';'"),
        (lambda root: _write(root / "prompt-gt.csv", f"Text;Image\n{POLYP};a.jpg\n"), "expected columns Prompt;Fil"),
        (lambda root: _write(root / "prompt-gt.csv", "Prompt;Filename\n"), "lists no images"),
        (lambda root: _write(root / "other.csv", f"x,y\n{POLYP},a.jpg\n"), "no prompt column"),
        (lambda root: _write(root / "other.csv", f"prompt,z\n{POLYP},a.jpg\n"), "no image column"),
    ],
)
def test_structural_problems_raise_even_with_skip_bad(tmp_path: Path, build, fragment: str) -> None:
    path = build(tmp_path)
    with pytest.raises(InputError, match=fragment):
        load_dataset(path, skip_bad=True)


def test_a_folder_without_a_listing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no prompt-gt.csv or metadata.jsonl and no CSV"):
        load_dataset(tmp_path)


@pytest.mark.parametrize(
    ("rows", "fragment"),
    [
        ([(POLYP, "a.jpg"), (TEXT, "missing.jpg")], "row 2: image 'missing.jpg' not found"),
        ([(POLYP, "a.jpg"), (TEXT, "b.jpg"), ("Generate a unicorn.", "a.jpg")], "row 3: cannot read 'unicorn.'"),
        ([(POLYP, "a.jpg"), ("", "b.jpg")], "row 2: empty Prompt"),
        ([(TEXT, "a.jpg"), ("Generate an image not containing text.", "a.jpg")], "row 2: prompt contradicts"),
        ([(POLYP, "a.jpg"), (TEXT, "sub/a.jpg")], "row 2: file name 'a.jpg' is listed again (first in row 1)"),
    ],
)
def test_bad_rows_raise_naming_file_and_row(tmp_path: Path, rows: list[tuple[str, str]], fragment: str) -> None:
    _image(tmp_path / "sub" / "a.jpg")
    root = _challenge(tmp_path, rows)
    with pytest.raises(InputError, match=r"prompt-gt\.csv: " + fragment.replace("(", r"\(").replace(")", r"\)")):
        load_dataset(root)


def test_unreadable_image_is_reported_once(tmp_path: Path) -> None:
    root = _challenge(tmp_path, [(POLYP, "a.jpg"), (TEXT, "b.jpg"), (POLYP, "b.jpg")])
    (root / "images" / "b.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(InputError, match="row 2: image .*b.jpg' is not a readable image"):
        load_dataset(root)
    dataset = load_dataset(root, skip_bad=True)
    assert [item.file_name for item in dataset.items] == ["a.jpg"]
    assert len(dataset.skipped) == 1


def test_imagefolder_bad_lines_and_duplicates(tmp_path: Path) -> None:
    _image(tmp_path / "1.png", "PNG")
    lines = [
        json.dumps({"file_name": "1.png", "prompt": POLYP}),
        "{not json",
        json.dumps({"file_name": "1.png"}),
        json.dumps({"file_name": "1.png", "prompt": TEXT}),
    ]
    _write(tmp_path / "metadata.jsonl", "\n".join(lines))
    with pytest.raises(InputError, match=r"metadata\.jsonl: row 2: not valid JSON"):
        load_dataset(tmp_path)
    dataset = load_dataset(tmp_path, skip_bad=True)
    assert [(item.file_name, item.prompts) for item in dataset.items] == [("1.png", (POLYP,))]
    assert [reason.split(": ", 2)[1] for reason in dataset.skipped] == ["row 2", "row 3", "row 4"]
    assert "listed again (first in row 1)" in dataset.skipped[2]


def test_skip_bad_keeps_the_good_rows_and_lists_each_problem(tmp_path: Path) -> None:
    rows = [(POLYP, "a.jpg"), ("Generate a unicorn.", "b.jpg"), (TEXT, "gone.jpg"), (TEXT, "gone.jpg"), (TEXT, "b.jpg")]
    dataset = load_dataset(_challenge(tmp_path, rows), skip_bad=True)
    assert [(item.file_name, item.prompts) for item in dataset.items] == [("a.jpg", (POLYP,)), ("b.jpg", (TEXT,))]
    assert len(dataset.skipped) == 2
    assert "row 2: cannot read 'unicorn.'" in dataset.skipped[0]
    assert "row 3: image 'gone.jpg' not found" in dataset.skipped[1]


def test_summary_counts_labels_categories_and_warns_on_small_categories(tmp_path: Path) -> None:
    rows = [(POLYP, "a.jpg"), (ONE_POLYP, "a.jpg"), (TEXT, "b.jpg"), (TUBE, "b.jpg"), (TEXT, "a.jpg")]
    summary = summarise(load_dataset(_challenge(tmp_path, rows)))
    assert (summary.images, summary.prompts, summary.distinct_prompts) == (2, 5, 4)
    assert summary.labels == {
        "findings": {"polyp": 1},
        "instruments": {"polyp snare": 1, "tube": 1},
        "polyp_count": {"1": 1},
        "text": {"true": 2},
    }
    assert summary.categories == {"instrument": 1, "landmark": 0, "polyp": 1}
    assert len(summary.warnings) == 3
    assert summary.warnings[1] == f"category 'landmark' has 0 images; scoring needs at least {MIN_IMAGES_PER_CATEGORY}"


def test_a_generated_set_is_not_warned_about_its_size(tmp_path: Path) -> None:
    """promptopt's own exports (records naming their generator) are what gets scored, not a reference: no
    "scoring needs at least 50" warning; the same listing without the generator still gets them."""
    from promptopt.datasets.layouts import generated_record

    _image(tmp_path / "images" / "a.png", "PNG")
    record = generated_record(
        "images/a.png",
        prompt=POLYP,
        negative_prompt=None,
        seed=0,
        guidance_scale=7.5,
        steps=2,
        generator={"model": "tiny-random"},
    )
    (tmp_path / "metadata.jsonl").write_text(json.dumps(record) + "\n")
    dataset = load_dataset(tmp_path)
    assert dataset.generated and summarise(dataset).warnings == ()
    (tmp_path / "metadata.jsonl").write_text(json.dumps({"file_name": "images/a.png", "prompt": POLYP}) + "\n")
    assert len(summarise(load_dataset(tmp_path)).warnings) == 3
