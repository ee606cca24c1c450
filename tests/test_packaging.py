"""What gets installed: every package folder is listed in pyproject.toml; the wheel holds nothing but `promptopt`
(generators/, scorers/ and studies/ install as promptopt.generators, promptopt.scorers, promptopt.studies) and
carries the study configs and the shipped weights and features, so `promptopt search -c polyp` runs from it."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "promptopt", "generators", "scorers", "studies")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_folder_is_installed():
    setup = _pyproject()
    mapped = setup["package-dir"]

    def folder(name: str) -> Path:  # the longest mapped prefix decides, as in setuptools
        prefix = max((p for p in mapped if name == p or name.startswith(f"{p}.")), key=len, default="")
        rest = name[len(prefix) :].lstrip(".").replace(".", "/")
        return ROOT / (mapped[prefix] if prefix else "") / rest

    where = {name: folder(name) for name in setup["packages"]}
    assert all((folder / "__init__.py").is_file() for folder in where.values()), where
    tops = ("promptopt", "generators", "scorers", "studies")
    folders = {p.parent for top in tops for p in (ROOT / top).rglob("__init__.py")}
    assert folders == set(where.values())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("wheel")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(ROOT / name, src / name)
    build = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out)]
    subprocess.run([*build, str(src)], check=True, capture_output=True)
    (path,) = out.glob("*.whl")
    return zipfile.ZipFile(path)


def test_wheel_carries_the_studies_and_the_shipped_assets(wheel):
    names = set(wheel.namelist())
    studies = {Path(n).name for n in names if n.startswith("promptopt/studies/")}
    assert {"__init__.py", "polyp.toml", "landmark.toml", "instrument.toml"} <= studies
    assert {p.name for p in (ROOT / "studies").glob("*.toml")} <= studies
    features = (ROOT / "scorers/gi-sim/features").glob("*.npy")
    shipped = [f"promptopt/scorers/gi-sim/features/{p.name}" for p in features]
    assert len(shipped) == 4 and set(shipped) <= names
    assert {
        "promptopt/scorers/gi-sim/judge.safetensors",
        "promptopt/scorers/gi-sim/judge.json",
        "promptopt/generators/gi-sim-tiny/unet/diffusion_pytorch_model.safetensors",
        "promptopt/core/atomic.py",
        "promptopt/data/medvqa-gi-2024-prompts.csv",
    } <= names


def test_wheel_claims_no_top_level_name_but_promptopt(wheel):
    tops = {n.split("/")[0] for n in wheel.namelist()}
    assert {t for t in tops if not t.endswith((".dist-info", ".data"))} == {"promptopt"}
