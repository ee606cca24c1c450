"""The GPU paths at Stable Diffusion size, on a randomly initialised pipeline of SD 1.5's architecture.

Usage: .venv/bin/python bench/gpu_check.py [--tiny] [--device auto] [--out FILE.json]
- on a GPU: `bench/gpu_check.py` builds SD 1.5's UNet, VAE and CLIP text encoder from the configs in
  bench/gpu_check/sd15/ (random weights, seed 0, about 1.1 B parameters) and measures at 512x512; sized to
  finish in under 8 minutes on one GPU;
- anywhere: `--tiny` runs the same code on the tiny configs of bench/gpu_check/tiny/ (CI runs it on the CPU).
No trained weights are needed: speed, memory and numerical behaviour depend on the architecture, not the weights.
The tokenizer is the bundled MiniLM word-piece one (no CLIP tokenizer exists offline); only the text encoder's
embedding table differs from SD 1.5 (30,522 rows instead of 49,408).

It prints one table and writes it as JSON (default bench/results/gpu_check[-tiny].json):
1. render: `promptopt render`'s generator (`load_generator(...).render`) against a bare diffusers call on the
   same pipeline folder, prompts and seeds, per dtype (float32, float16, bfloat16; the CPU has no float16), plus
   the bare call with a channels-last UNet and promptopt with `compile` (CUDA, bfloat16 only). Images/s after one
   warm-up batch, and peak GPU memory;
2. train: LoRA steps/s and peak memory, `promptopt train --method lora`'s trainer against the step of diffusers'
   train_text_to_image_lora.py (which encodes images and captions every step; promptopt encodes them once), in
   bf16, and in fp16 with the grad scaler (CUDA only);
3. equivalence: the mean absolute difference (0-255) of float16 / bfloat16 images from the float32 ones of the same
   seeds, and the denoising loss of one batch under each autocast dtype;
4. out of memory: a batch that cannot fit is retried at half size with its warning (on CUDA, memory is capped
   between the peaks of one image and of a full batch; on the CPU the out-of-memory error is injected);
5. resume: a LoRA run stopped half-way and resumed from its checkpoint continues with the same losses as an
   uninterrupted run (CUDA RNG state included: LoRA dropout draws from it); the run-to-run difference of two
   uninterrupted runs is the floor it is held to.
The exit status is 1 when a check fails (non-finite output, no fallback, a resumed run off its floor).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
from gpu_check_common import Row, build_pipeline, training_images  # noqa: E402
from gpu_check_render import check_equivalence, check_oom, check_render  # noqa: E402
from gpu_check_train import check_resume, check_training  # noqa: E402

from promptopt.core.libraries import quiet_libraries  # noqa: E402

CONFIGS = Path(__file__).parent / "gpu_check"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tiny", action="store_true", help="tiny configs (the CPU check CI runs)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when there is one), cpu or cuda[:N]")
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default bench/results/gpu_check*.json)")
    return parser.parse_args()


# --- the table ------------------------------------------------------------------------------------------
def print_table(rows: list[Row]) -> None:
    print(f"{'check':<14} {'variant':<44} {'value':>10} {'unit':<18} {'peak GiB':>8}  ok  note")
    for r in rows:
        gib = "-" if r["peak_gib"] is None else f"{r['peak_gib']:.2f}"
        print(
            f"{r['check']:<14} {r['variant']:<44} {r['value']:>10.4g} {r['unit']:<18} {gib:>8}  "
            f"{'yes' if r['ok'] else 'NO ':<3} {r['note']}"
        )


def main() -> None:
    args = parse_args()
    from promptopt.generators.loading import resolve_device_dtype

    quiet_libraries()
    device, _ = resolve_device_dtype(args.device, "auto")
    cuda = device.startswith("cuda")
    name = "tiny" if args.tiny else "sd15"
    run = json.loads((CONFIGS / name / "run.json").read_text())
    dtypes = ["float32", "float16", "bfloat16"] if cuda else ["float32", "bfloat16"]
    amps = ["bf16", "fp16"] if cuda else ["bf16"]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        work = Path(tmp)
        folder = work / "pipeline"
        build_pipeline(CONFIGS / name, folder)
        examples = training_images(work / "images", 2 * run["train_batch"], run["resolution"])
        rows, images = check_render(folder, run, device, dtypes)
        rows += check_training(folder, examples, work, run, device, amps)
        rows += check_equivalence(folder, examples, images, device)
        rows += check_oom(folder, run, device, dtypes[-1])
        rows += check_resume(folder, examples, work, run, device, amps[0])
    name_of_device = torch.cuda.get_device_name(device) if cuda else platform.processor() or "CPU"
    report = {
        "configs": name,
        "device": device,
        "device_name": name_of_device,
        "torch": torch.__version__,
        "run": run,
        "rows": rows,
        "passed": all(r["ok"] for r in rows),
        "seconds": round(time.perf_counter() - start, 1),
    }
    print(
        f"gpu_check ({name} configs at {run['resolution']}x{run['resolution']}) on {device} ({name_of_device}), "
        f"torch {torch.__version__}\n"
    )
    print_table(rows)
    print(f"\n{'all checks passed' if report['passed'] else 'SOME CHECKS FAILED'} in {report['seconds']:.0f} s")
    out = args.out or Path(f"bench/results/gpu_check{'-tiny' if args.tiny else ''}.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    raise SystemExit(0 if report["passed"] else 1)


if __name__ == "__main__":
    main()
