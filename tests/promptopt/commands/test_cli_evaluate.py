"""`promptopt evaluate`: the default-command group, every metric against the library on the same images, caching.

Most tests use a tiny random DINOv2 backbone saved to disk (fast); the caching test uses the bundled Inception.
"""

import json
import warnings

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from promptopt.cli import app
from promptopt.sim import SimConfig, simulate

runner = CliRunner()
PROMPTS = ("an image with a polyp", "an image of the z-line", "an image with a biopsy forceps")


def _write_sim(folder, seed: int, n: int, *, prompts: bool = False) -> list:
    folder.mkdir(parents=True)
    images = [simulate(seed, i, 32, SimConfig())[0] for i in range(n)]
    lines = []
    for i, image in enumerate(images):
        image.save(folder / f"{i:03d}.png")
        lines.append(json.dumps({"file_name": f"{i:03d}.png", "prompt": PROMPTS[i % len(PROMPTS)]}))
    if prompts:
        (folder / "metadata.jsonl").write_text("\n".join(lines) + "\n")
    return images


@pytest.fixture
def sets(tmp_path, monkeypatch):
    """6 generated GI-sim images with prompts (the last is a copy of a reference image) and 7 reference images."""
    monkeypatch.setenv("PROMPTOPT_CACHE", str(tmp_path / "cache"))
    ref_images = _write_sim(tmp_path / "ref", seed=1, n=7)
    gen_images = _write_sim(tmp_path / "gen", seed=2, n=6, prompts=True)
    ref_images[3].save(tmp_path / "gen" / "005.png")
    gen_images[5] = ref_images[3]
    return tmp_path / "gen", tmp_path / "ref", gen_images, ref_images


@pytest.fixture(scope="module")
def dinov2(tmp_path_factory):
    from transformers import Dinov2Config, Dinov2Model

    folder = tmp_path_factory.mktemp("dinov2")
    config = Dinov2Config(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64, patch_size=8, image_size=32
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        Dinov2Model(config).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    import open_clip
    from safetensors.torch import save_file

    folder = tmp_path_factory.mktemp("clip")
    cfg = {
        "embed_dim": 16,
        "vision_cfg": {"image_size": 32, "patch_size": 8, "width": 32, "head_width": 16, "layers": 1},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    }
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg}))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = open_clip.create_model(f"local-dir:{folder}")
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, folder / "open_clip_model.safetensors")
    return folder


class _Logits(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, kernel_size=23, stride=23)
        self.head = torch.nn.Linear(4, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.conv(x.float() / 255.0).mean(dim=(2, 3))) * 4.0


@pytest.fixture(scope="module")
def is_network(tmp_path_factory):
    path = tmp_path_factory.mktemp("is") / "logits.pt"
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated; TorchScript files still load
        torch.manual_seed(0)
        torch.jit.trace(_Logits().eval(), torch.zeros(1, 3, 299, 299, dtype=torch.uint8)).save(str(path))
    return path


def _evaluate(*args: str) -> dict:
    result = runner.invoke(app, ["evaluate", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _rows(report: dict) -> dict:
    return {row["metric"]: row for row in report["metrics"]}


def test_every_metric_equals_the_library_on_the_same_features(sets, dinov2, tiny_clip, is_network, tiny_judge_file):
    from promptopt.scorers.backbones import load_backbone
    from promptopt.scorers.clip import ClipScorer, load_clip
    from promptopt.scorers.diversity import mean_pairwise_distance
    from promptopt.scorers.inception_score import LogitsNetwork, class_distribution, inception_score
    from promptopt.scorers.memorisation import near_copies
    from promptopt.scorers.prdc import prdc
    from promptopt.scorers.realism_metrics import frechet_distance, kid_summary, mean_cov

    generated, reference, gen_images, ref_images = sets
    backbone = load_backbone(f"dinov2:{dinov2}")
    gen, ref = backbone(gen_images), backbone(ref_images)

    report = _evaluate(
        str(generated),
        "--reference",
        str(reference),
        "--backbone",
        f"dinov2:{dinov2}",
        "--clip",
        str(tiny_clip),
        "--is-network",
        str(is_network),
        "--judge",
        str(tiny_judge_file),
        "--seed",
        "3",
    )
    rows = _rows(report)
    assert report["n_generated"] == 6 and report["n_reference"] == 7 and report["backbone"] == backbone.name
    assert rows["fid"]["value"] == pytest.approx(frechet_distance(*mean_cov(ref), *mean_cov(gen)), rel=1e-6)
    assert rows["fid"]["reliable"] is False and "biased upwards" in rows["fid"]["note"]
    kid = kid_summary(ref, gen, subsets=100, subset_size=1000, seed=3)
    assert rows["kid"]["value"] == pytest.approx(kid["kid"]) and rows["kid"]["se"] == pytest.approx(kid["kid_se"])
    assert "subset size adapted to 6" in rows["kid"]["note"]
    for name, value in prdc(ref, gen, k=5).items():
        assert rows[name]["value"] == pytest.approx(value)
    assert rows["diversity"]["value"] == pytest.approx(mean_pairwise_distance(gen))
    copies = near_copies(gen, ref)
    assert 5 in copies.indices  # the copied reference image
    assert rows["memorisation"]["value"] == pytest.approx(len(copies.indices) / 6)
    assert rows["memorisation"]["note"].startswith(f"{len(copies.indices)} of 6")

    order = np.random.default_rng(3).permutation(6)
    probs = LogitsNetwork(is_network)(gen_images)
    assert rows["is"]["value"] == pytest.approx(inception_score(probs[order], splits=2)[0])
    assert rows["is"]["backbone"] == "logits.pt" and rows["is"]["se"] is not None
    from promptopt.judge.schema import PRESENCE
    from promptopt.scorers.judge import load_judge

    presence = load_judge(tiny_judge_file).predict(gen_images)[:, : len(PRESENCE)]
    domain = class_distribution(presence)
    assert rows["is_judge"]["value"] == pytest.approx(inception_score(domain[order], splits=2)[0])
    assert rows["is_judge"]["backbone"] == "judge.safetensors"

    prompts = [PROMPTS[i % 3] for i in range(6)]
    clip_score = ClipScorer(load_clip(str(tiny_clip))).score(gen_images, prompts)["clip_score"]
    assert rows["clip"]["value"] == pytest.approx(clip_score, rel=1e-6)
    assert all(row["n_generated"] == 6 for row in report["metrics"])


def test_second_evaluation_reads_the_reference_from_the_cache(sets, dinov2, tmp_path):
    generated, reference, _, _ = sets
    spec = f"dinov2:{dinov2}"
    first = _evaluate(str(generated), "--reference", str(reference), "--metrics", "fid,kid", "--backbone", spec)
    second = _evaluate("--metrics", "fid,kid", "--backbone", spec, "--reference", str(reference), str(generated))
    assert first["reference_cached"] is False and second["reference_cached"] is True
    assert [r["metric"] for r in first["metrics"]] == ["fid", "kid"]
    assert _rows(first)["fid"]["value"] == pytest.approx(_rows(second)["fid"]["value"], rel=1e-6)
    cached = list((tmp_path / "cache" / "features").glob("dinov2-*.npy"))
    assert len(cached) == 1 and cached[0].name.startswith(first["backbone"])


def test_default_gi_sim_reference_uses_the_shipped_features_on_a_fresh_machine(tmp_path, monkeypatch):
    """An empty cache: the 500 held-out GI-sim images are made, their features come from the package."""
    from promptopt.sim.reference import gi_sim_reference

    monkeypatch.setenv("PROMPTOPT_CACHE", str(tmp_path / "cache"))
    generated = gi_sim_reference("polyp", 50, 64, tmp_path / "elsewhere")  # a 50-image GI-sim set
    report = _evaluate(str(generated), "--metrics", "fid,kid")
    assert report["reference_cached"] is True and report["n_reference"] == 500
    assert _rows(report)["fid"]["n_generated"] == 50
    assert not (tmp_path / "cache" / "features").exists()  # nothing was computed, so nothing was cached


def test_metrics_that_cannot_be_computed_say_why(sets, dinov2):
    generated, reference, _, _ = sets
    (generated / "metadata.jsonl").unlink()
    rows = _rows(
        _evaluate(str(generated), "-r", str(reference), "--backbone", f"dinov2:{dinov2}", "--metrics", "is,clip,prdc")
    )
    assert rows["is"]["value"] is None and "no class logits" in rows["is"]["note"] and not rows["is"]["computed"]
    assert rows["clip"]["value"] is None and "--clip" in rows["clip"]["note"]
    assert rows["precision"]["computed"] and rows["precision"]["reliable"] is False


def test_clip_without_prompts_is_not_computed(sets, tiny_clip):
    generated, reference, _, _ = sets
    (generated / "metadata.jsonl").unlink()
    rows = _rows(_evaluate(str(generated), "-r", str(reference), "--metrics", "clip", "--clip", str(tiny_clip)))
    assert rows["clip"]["value"] is None and "no metadata.jsonl" in rows["clip"]["note"]


def test_table_output(sets, dinov2):
    generated, reference, _, _ = sets
    result = runner.invoke(app, ["evaluate", str(generated), "-r", str(reference), "--backbone", f"dinov2:{dinov2}"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    expected = ("fid", "kid", "precision", "coverage", "memorisation", "not computed", "dinov2", "± ", "[1] n=6 < 32")
    for text in expected:
        assert text in out, text


def test_help_lists_both_usages_and_routes_to_tstr():
    result = runner.invoke(app, ["evaluate", "--help"])
    assert result.exit_code == 0
    assert "promptopt evaluate [OPTIONS] {generated}" in result.output
    assert "promptopt evaluate tstr" in result.output and "--reference" in result.output
    tstr = runner.invoke(app, ["evaluate", "tstr", "--help"])
    assert tstr.exit_code == 0 and "TSTR" in tstr.output and "--reference" not in tstr.output
    bare = runner.invoke(app, ["evaluate"])
    assert bare.exit_code == 2 and "promptopt evaluate tstr" in bare.output


def test_a_folder_named_like_the_default_command_is_still_a_folder(sets, dinov2, monkeypatch):
    generated, _, _, _ = sets
    generated.rename(generated.parent / "images")
    monkeypatch.chdir(generated.parent)
    report = _evaluate("images", "-r", "ref", "--backbone", f"dinov2:{dinov2}", "--metrics", "kid")
    assert report["generated"] == "images" and report["n_generated"] == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nowhere", "-r", "."], "generated folder nowhere does not exist"),
        (["{gen}", "-r", "nowhere"], "reference folder nowhere does not exist"),
        (["{gen}", "-r", "{gen}/../empty"], "holds 0 images; realism needs at least 2"),
        (["{gen}", "-r", "{ref}", "--metrics", "fid,psnr"], "--metrics: unknown 'psnr'"),
        (["{gen}", "-r", "{ref}", "--device", "gpu"], "--device 'gpu' is not a device"),
        (["{gen}", "-r", "{ref}", "--backbone", "resnet"], "--backbone: unknown feature backbone 'resnet'"),
        (["{gen}", "-r", "{ref}", "--backbone", "dinov2:/no/such"], "--backbone: DINOv2 folder /no/such has no config"),
        (["{gen}", "-r", "{ref}", "--metrics", "is", "--is-network", "/no/net.pt"], "--is-network: IS network"),
        (["{gen}", "-r", "{ref}", "--metrics", "clip", "--clip", "/no/clip"], "--clip: CLIP model"),
        (
            ["{gen}", "-r", "{gen}/../broken", "--backbone", "{dinov2}"],
            "002.png cannot be read (image file is truncated)",
        ),
        (
            ["{gen}/../broken", "-r", "{ref}", "--backbone", "{dinov2}"],
            "002.png cannot be read (Truncated File Read)",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(sets, dinov2, args, message):
    generated, reference, _, _ = sets
    (generated.parent / "empty").mkdir()
    broken = generated.parent / "broken"  # a copy of the generated set with one truncated PNG
    broken.mkdir()
    for path in generated.glob("*.png"):
        data = path.read_bytes()
        (broken / path.name).write_bytes(data[:100] if path.name == "002.png" else data)
    args = [a.format(gen=generated, ref=reference, dinov2=f"dinov2:{dinov2}") for a in args]
    result = runner.invoke(app, ["evaluate", *args])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.output
