"""bench/gpu_check.py cannot rot: its --tiny run (the GPU script's code on tiny configs, on the CPU) passes every
check and writes the table as JSON."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_gpu_check_tiny_passes_on_the_cpu(tmp_path):
    out = tmp_path / "gpu_check.json"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "gpu_check.py"), "--tiny", "--out", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(out.read_text())
    assert report["passed"] and report["configs"] == "tiny" and report["device"] == "cpu"
    rows = {(r["check"], r["variant"]): r for r in report["rows"]}
    for variant in (
        "promptopt float32",
        "diffusers float32",
        "promptopt bfloat16",
        "diffusers + channels-last bfloat16",
    ):
        assert rows["render", variant]["value"] > 0
    assert {"train LoRA"} <= {check for check, _ in rows}
    assert rows["equivalence", "images bfloat16 vs float32"]["value"] < 10  # of 0-255: the same images, rounded
    oom = next(r for (check, _), r in rows.items() if check == "out of memory")
    assert oom["value"] == 2 and "retrying with batches of 2" in oom["note"]  # batch 4 → 2 after the warning
    resume = next(r for (check, _), r in rows.items() if check == "resume")
    assert resume["value"] == 0.0  # on the CPU a resumed run repeats the uninterrupted one exactly
    assert "all checks passed" in result.stdout
