"""Datasets of GI endoscopy images with prompts, read from three layouts (paths only, no pixels):

- challenge:   `prompt-gt.csv` (`;`-separated, columns `Prompt;Filename`, one row per prompt) + `images/`
- csv:         a CSV with a prompt column (prompt/caption/text) and an image column
               (file_name/filename/image/img_id/path …), e.g. a Kvasir-VQA or Hugging Face export
- imagefolder: `metadata.jsonl`, one JSON object per image with `file_name` and `prompt`
               (this project's export format); images next to it or in `images/`

Each image's labels are the `grammar.aggregate` of its parsed prompts.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from promptopt import grammar
from promptopt.core.errors import InputError

CHALLENGE_FILE = "prompt-gt.csv"
METADATA_FILE = "metadata.jsonl"
PROMPT_COLUMNS = ("prompt", "caption", "text", "prompts", "captions")
IMAGE_COLUMNS = ("file_name", "filename", "image", "img_id", "image_id", "path", "image_path", "file")
REFERENCE_SUFFIXES = (".jpg", ".jpeg", ".png")  # tried in turn for a prompt-gt.csv Filename without one
MIN_IMAGES_PER_CATEGORY = 50


@dataclass(frozen=True)
class Item:
    """One image: where it is, its prompts in file order, and the aggregate of their attributes."""

    file_name: str
    image: Path
    prompts: tuple[str, ...]
    labels: dict[str, Any]


@dataclass(frozen=True)
class Dataset:
    """Images with prompts; `skipped` holds one reason per problem left out under skip_bad (a missing or
    unreadable image is one problem, however many rows name it)."""

    root: Path
    layout: str
    items: tuple[Item, ...]
    skipped: tuple[str, ...] = ()
    generated: bool = False  # every metadata.jsonl record names its generator: promptopt rendered it


@dataclass(frozen=True)
class _Row:
    number: int
    prompt: str
    image: str
    generated: bool = False


@dataclass
class _Problems:
    """Raises the first problem, or collects every problem when skip_bad is set."""

    source: Path
    skip_bad: bool
    found: list[str] = field(default_factory=list)

    def report(self, row: int, problem: str) -> None:
        message = f"{self.source}: row {row}: {problem}"
        if not self.skip_bad:
            raise InputError(message)
        self.found.append(message)


def load_dataset(
    path: Path, *, skip_bad: bool = False, prompt_column: str | None = None, image_column: str | None = None
) -> Dataset:
    """Read the dataset at `path` (a folder or its listing file), detecting the layout.

    Bad rows (unparseable prompt, image missing or unreadable, duplicate file name) raise InputError
    naming the file and 1-based data row; with `skip_bad` they are left out and listed in `skipped`.
    """
    source, layout = _locate(Path(path))
    given = [f"--{n}-column" for n, v in (("prompt", prompt_column), ("image", image_column)) if v is not None]
    if given and layout != "csv":
        raise InputError(
            f"{' and '.join(given)} name a CSV's columns, but {source} is the {layout} layout, whose fields are "
            "fixed: leave them out"
        )
    problems = _Problems(source, skip_bad)
    if layout == "challenge":
        rows = list(_challenge_rows(source, problems))
    elif layout == "imagefolder":
        rows = list(_jsonl_rows(source, problems))
    else:
        rows = list(_csv_rows(source, problems, prompt_column, image_column))
    if not rows and not problems.found:
        raise InputError(f"{source}: lists no images; add rows with a prompt and an image")
    folders = (source.parent, source.parent / "images")
    if layout == "challenge":
        folders = folders[::-1]
    items = _assemble(rows, folders, problems, one_row_per_image=layout == "imagefolder")
    return Dataset(source.parent, layout, items, tuple(problems.found), all(row.generated for row in rows))


def _locate(path: Path) -> tuple[Path, str]:
    if not path.exists():
        raise InputError(f"{path}: no such file or folder; give a dataset folder or its CSV / metadata.jsonl")
    if path.is_dir():
        for name, layout in ((CHALLENGE_FILE, "challenge"), (METADATA_FILE, "imagefolder")):
            if (path / name).is_file():
                return path / name, layout
        csvs = sorted(path.glob("*.csv"))
        if len(csvs) != 1:
            found = "no CSV" if not csvs else f"{len(csvs)} CSV files"
            raise InputError(
                f"{path}: no {CHALLENGE_FILE} or {METADATA_FILE} and {found}; give the listing file's path"
            )
        return csvs[0], "csv"
    if path.name == CHALLENGE_FILE:
        return path, "challenge"
    if path.suffix == ".jsonl":
        return path, "imagefolder"
    if path.suffix.lower() == ".csv":
        return path, "csv"
    raise InputError(f"{path}: not a dataset listing; give a folder, a CSV or a metadata.jsonl")


def _read_lines(source: Path) -> list[str]:
    try:
        return source.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as err:
        raise InputError(f"{source}: not UTF-8 text ({err.reason}); save it as UTF-8") from None


def _challenge_rows(source: Path, problems: _Problems) -> Iterator[_Row]:
    lines = _read_lines(source)
    header = lines[0] if lines else ""
    if ";" not in header:
        raise InputError(
            f"{source}: expected ';'-separated columns Prompt;Filename, found header {header!r}; "
            "save it with ';' as the separator"
        )
    reader = csv.DictReader(lines, delimiter=";")
    columns = {name.strip().lower(): name for name in reader.fieldnames or []}
    if not {"prompt", "filename"} <= columns.keys():
        raise InputError(f"{source}: expected columns Prompt;Filename, found {header!r}; rename the columns")
    yield from _dict_rows(reader, columns["prompt"], columns["filename"], problems)


def _csv_rows(source: Path, problems: _Problems, prompt_column: str | None, image_column: str | None) -> Iterator[_Row]:
    lines = _read_lines(source)
    try:
        dialect: Any = csv.Sniffer().sniff(lines[0] if lines else "", delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(lines, dialect=dialect)
    fields = reader.fieldnames or []
    prompt_name = _column(source, fields, prompt_column, PROMPT_COLUMNS, "prompt")
    image_name = _column(source, fields, image_column, IMAGE_COLUMNS, "image")
    yield from _dict_rows(reader, prompt_name, image_name, problems)


def _column(source: Path, fields: list[str], named: str | None, candidates: tuple[str, ...], what: str) -> str:
    by_lower = {name.strip().lower(): name for name in fields}
    for wanted in (named,) if named else candidates:
        if wanted.lower() in by_lower:
            return by_lower[wanted.lower()]
    looked = repr(named) if named else ", ".join(candidates)
    raise InputError(
        f"{source}: no {what} column (looked for {looked}; found {', '.join(fields) or 'no columns'}); "
        f"name it with --{what}-column"
    )


def _dict_rows(reader: csv.DictReader, prompt_name: str, image_name: str, problems: _Problems) -> Iterator[_Row]:
    for number, record in enumerate(reader, start=1):
        prompt, image = (record.get(prompt_name) or "").strip(), (record.get(image_name) or "").strip()
        if not prompt or not image:
            problems.report(number, f"empty {prompt_name if not prompt else image_name}; fill it in or remove the row")
            continue
        yield _Row(number, prompt, image)


def _jsonl_rows(source: Path, problems: _Problems) -> Iterator[_Row]:
    for number, line in enumerate(_read_lines(source), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            problems.report(number, f"not valid JSON ({err.msg}); write one JSON object a line")
            continue
        prompt = next((record[k] for k in PROMPT_COLUMNS if isinstance(record, dict) and k in record), None)
        image = record.get("file_name") if isinstance(record, dict) else None
        if not isinstance(prompt, str) or not isinstance(image, str) or not prompt.strip() or not image.strip():
            problems.report(number, 'needs a "file_name" and a "prompt" string; add them')
            continue
        yield _Row(number, prompt.strip(), image.strip(), isinstance(record.get("generator"), dict))


def _assemble(
    rows: list[_Row], folders: tuple[Path, ...], problems: _Problems, *, one_row_per_image: bool
) -> tuple[Item, ...]:
    parsed: dict[str, dict[str, Any] | grammar.PromptParseError] = {}
    images: dict[str, tuple[Path | None, str | None]] = {}
    first_row: dict[str, tuple[Path, int]] = {}
    prompts: dict[str, list[str]] = {}
    labels: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.prompt not in parsed:
            parsed[row.prompt] = _try_parse(row.prompt)
        attrs = parsed[row.prompt]
        if isinstance(attrs, grammar.PromptParseError):
            problems.report(row.number, str(attrs))
            continue
        if row.image not in images:
            images[row.image] = _check_image(row.image, folders)
            if images[row.image][1]:
                problems.report(row.number, str(images[row.image][1]))
        path, image_problem = images[row.image]
        if path is None or image_problem:
            continue
        name = path.name
        if name in first_row and (one_row_per_image or first_row[name][0] != path):
            first = first_row[name][1]
            problems.report(
                row.number, f"file name {name!r} is listed again (first in row {first}); list each image once"
            )
            continue
        try:
            merged = grammar.aggregate([labels.get(name, {}), attrs])
        except InputError as err:
            problems.report(row.number, f"prompt contradicts an earlier prompt of {name!r}: {err}")
            continue
        first_row.setdefault(name, (path, row.number))
        prompts.setdefault(name, []).append(row.prompt)
        labels[name] = merged
    return tuple(Item(name, first_row[name][0], tuple(prompts[name]), labels[name]) for name in first_row)


def _try_parse(prompt: str) -> dict[str, Any] | grammar.PromptParseError:
    try:
        return grammar.parse(prompt)
    except grammar.PromptParseError as err:
        return err


def _check_image(reference: str, folders: tuple[Path, ...]) -> tuple[Path | None, str | None]:
    """The image file a row names, and why it cannot be used (None when it can)."""
    path = _find_image(reference, folders)
    if path is None:
        return None, f"image {reference!r} not found in {' or '.join(map(str, folders))}; add it or fix the name"
    from PIL import Image

    try:
        with Image.open(path) as image:
            image.verify()
    except Exception as err:  # PIL raises many types for broken files
        return path, f"image {str(path)!r} is not a readable image ({type(err).__name__}: {err}); replace it"
    return path, None


def _find_image(reference: str, folders: tuple[Path, ...]) -> Path | None:
    names = [reference] if Path(reference).suffix else [reference + suffix for suffix in REFERENCE_SUFFIXES]
    for folder in folders:
        for name in names:
            candidate = folder / name
            if candidate.is_file():
                return candidate
    return None


@dataclass(frozen=True)
class Summary:
    """What `data stats` reports: sizes, images per label value and per category, and warnings."""

    root: str
    layout: str
    images: int
    prompts: int
    distinct_prompts: int
    labels: dict[str, dict[str, int]]
    categories: dict[str, int]
    warnings: tuple[str, ...]
    skipped: tuple[str, ...]


def _label_values(value: Any) -> list[str]:
    if isinstance(value, list):
        return value
    return [json.dumps(value) if isinstance(value, bool) else str(value)]


def summarise(dataset: Dataset) -> Summary:
    """Count images, prompts, images per label value (e.g. labels["findings"]["polyp"]) and per category;
    warn about categories with fewer than MIN_IMAGES_PER_CATEGORY images, the least a set of real images needs to
    be scored against (generated sets, such as promptopt's own exports, are what gets scored: no warning)."""
    all_prompts = [p for item in dataset.items for p in item.prompts]
    per_key: dict[str, Counter[str]] = {}
    per_category: Counter[str] = Counter()
    for item in dataset.items:
        for key, value in item.labels.items():
            per_key.setdefault(key, Counter()).update(_label_values(value))
        per_category.update(grammar.categories(item.labels))
    labels = {
        key: dict(sorted(per_key[key].items(), key=lambda kv: (-kv[1], kv[0])))
        for key in grammar.KEYS
        if key in per_key
    }
    counts = {category: per_category[category] for category in sorted(grammar.CATEGORY_NAMES)}
    warnings = tuple(
        f"category {category!r} has {n} image{'' if n == 1 else 's'}; scoring needs at least {MIN_IMAGES_PER_CATEGORY}"
        for category, n in counts.items()
        if n < MIN_IMAGES_PER_CATEGORY and not dataset.generated
    )
    return Summary(
        str(dataset.root),
        dataset.layout,
        len(dataset.items),
        len(all_prompts),
        len(set(all_prompts)),
        labels,
        counts,
        warnings,
        dataset.skipped,
    )


def generated_record(
    file_name: str,
    *,
    prompt: str,
    negative_prompt: str | None,
    seed: int,
    guidance_scale: float | None,
    steps: int | None,
    generator: dict[str, Any],
    **origin: Any,
) -> dict[str, Any]:
    """One `metadata.jsonl` line of a generated imagefolder, the one shape `promptopt render` and export write (and
    `load_dataset` and `promptopt evaluate` read): the image's file, what it was rendered from, the generator's
    identity, then where it came from (`origin`: size, prompt and image index; or category, rank and the prompt's scores)."""
    return {
        "file_name": file_name,
        "prompt": prompt,
        "negative_prompt": negative_prompt,
        "seed": seed,
        "guidance_scale": guidance_scale,
        "steps": steps,
        "generator": generator,
        **origin,
    }
