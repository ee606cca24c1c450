"""The state of a training run and one optimizer step of it (`generators.training.train.train` drives it).

Precision: trainable weights are always float32. Under LoRA the frozen base weights are cast to the
mixed-precision dtype (as diffusers' LoRA scripts do) and the adapters kept in float32. Full fine-tuning keeps
every module in float32 (they are saved) and relies on autocast alone.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from promptopt.core.grids import save_grid
from promptopt.generators.training.checkpoint import Checkpoint, save_checkpoint
from promptopt.generators.training.config import TrainConfig
from promptopt.generators.training.data import CaptionDataset, TrainExample, derive_seed
from promptopt.generators.training.dreambooth import class_examples, instance_examples
from promptopt.generators.training.encode import Latents, TextEmbeddings
from promptopt.generators.training.loss import denoising_loss
from promptopt.generators.training.models import add_trainables, load_models, place, render
from promptopt.generators.training.outputs import save_lora, save_pipeline, write_log, write_plot
from promptopt.generators.training.vae import pixels, save_vae, vae_loss, validate_vae, validation_images

NOISE_STREAM, CLASS_STREAM = 31, 32


class Trainer:
    def __init__(
        self,
        cfg: TrainConfig,
        examples: Sequence[TrainExample],
        out: Path,
        *,
        base_folder: Path | None,
        device: Any,
        status: Callable[[str], None],
    ):
        import torch

        self.cfg, self.out, self.device = cfg, out, device
        self.step, self.log = 0, []
        self.amp_dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(cfg.mixed_precision)
        status("loading models")
        self.models = load_models(cfg, base_folder)
        place(self.models, device, self.amp_dtype if cfg.trains_lora and self.amp_dtype else torch.float32)
        classes: list[TrainExample] = []
        if cfg.method == "dreambooth-lora":
            examples = instance_examples(cfg.dreambooth, examples)
            if cfg.dreambooth.prior_preservation:
                status("class images")
                categories = [e.category for e in examples]
                classes = class_examples(
                    cfg.dreambooth, categories, out, self.models, resolution=cfg.resolution, autocast=self.autocast
                )
        self.params = add_trainables(self.models, cfg)
        self._train_mode(True)
        self.data = self._dataset(examples, cfg.seed)
        if cfg.method == "vae":  # images only: no latents, captions or text encoder
            self.class_data = None
            self.validation_images = validation_images(self.data, device)
            self._optimization()
            return
        self.class_data = self._dataset(classes, derive_seed(cfg.seed, CLASS_STREAM)) if classes else None
        status("encoding images and captions")
        self.latents = self._latents(self.data)
        if self.models.random_vae and not (cfg.model and cfg.model.vae.scaling_factor):
            self.models.vae.register_to_config(scaling_factor=self.latents.estimate_scaling_factor())
        self.class_latents = self._latents(self.class_data) if self.class_data else None
        trains_text = cfg.trains_lora and cfg.lora.train_text_encoder
        self.texts = TextEmbeddings(
            self.models.tokenizer,
            self.models.text_encoder,
            device,
            trainable=trains_text,
            autocast=self.autocast,
            cache=cfg.caption != "combine",
        )
        self.texts.prepare(
            [p for d in (self.data, self.class_data) if d for e in d.examples for p in self._captions(e)]
        )
        self._optimization()

    # --- setup -------------------------------------------------------------------------------------------
    def autocast(self) -> AbstractContextManager:
        import torch

        return torch.autocast(self.device.type, dtype=self.amp_dtype) if self.amp_dtype else nullcontext()

    def _train_mode(self, on: bool) -> None:
        cfg = self.cfg
        text_encoder = cfg.trains_lora and cfg.lora.train_text_encoder
        self.models.train_mode(on, text_encoder=text_encoder, vae=cfg.method == "vae")

    def _dataset(self, examples: Sequence[TrainExample], seed: int) -> CaptionDataset:
        cfg = self.cfg
        return CaptionDataset(
            examples,
            resolution=cfg.resolution,
            seed=seed,
            caption=cfg.caption,
            caption_max_prompts=cfg.caption_max_prompts,
            caption_dropout=cfg.caption_dropout,
            random_flip=cfg.random_flip,
        )

    def _captions(self, example: TrainExample) -> tuple[str, ...]:
        """The captions to encode up front: none for `combine` (too many joins; each batch encodes its own)."""
        dropped = ("",) if self.cfg.caption_dropout else ()
        if self.cfg.caption == "combine":
            return ()
        return (*(example.prompts if self.cfg.caption == "random" else example.prompts[:1]), *dropped)

    def _latents(self, data: CaptionDataset) -> Latents:
        latents = Latents(self.models.vae, data, self.device, autocast=self.autocast)
        flips = (False, True) if data.random_flip else (False,)
        latents.prepare([(i, f) for i in range(len(data)) for f in flips])
        return latents

    def _optimization(self) -> None:
        import torch
        from diffusers.optimization import get_scheduler
        from diffusers.training_utils import EMAModel

        cfg = self.cfg
        self.optimizer = torch.optim.AdamW(
            self.params,
            lr=cfg.learning_rate,
            betas=(cfg.adam_beta1, cfg.adam_beta2),
            weight_decay=cfg.adam_weight_decay,
            eps=cfg.adam_epsilon,
        )
        self.lr_scheduler = get_scheduler(
            cfg.lr_scheduler,
            self.optimizer,
            num_warmup_steps=cfg.lr_warmup_steps,
            num_training_steps=cfg.max_train_steps,
        )
        self.scaler = torch.amp.GradScaler("cuda") if cfg.mixed_precision == "fp16" else None
        self.ema = EMAModel(self.params, decay=cfg.ema_decay) if cfg.ema else None

    # --- one step ----------------------------------------------------------------------------------------
    def _loss(self, micro_step: int) -> Any:
        import torch

        cfg = self.cfg
        generator = torch.Generator("cpu").manual_seed(derive_seed(cfg.seed, NOISE_STREAM, micro_step))
        plan = self.data.plan(micro_step, cfg.train_batch_size)
        if cfg.method == "vae":
            images = pixels(self.data, plan, self.device)
            return vae_loss(
                self.models.vae,
                images,
                generator,
                loss=cfg.vae_loss,
                kl_weight=cfg.vae_kl_weight,
                autocast=self.autocast,
            )
        latents, captions = self.latents.sample(plan, generator), list(plan.captions)
        if self.class_data is not None and self.class_latents is not None:
            class_plan = self.class_data.plan(micro_step, cfg.train_batch_size)
            latents = torch.cat([latents, self.class_latents.sample(class_plan, generator)])
            captions += class_plan.captions
        return denoising_loss(
            self.models.unet,
            self.models.noise_scheduler,
            latents,
            self.texts(captions),
            generator,
            noise_offset=cfg.noise_offset,
            snr_gamma=cfg.snr_gamma,
            autocast=self.autocast,
            prior_loss_weight=cfg.dreambooth.prior_loss_weight if self.class_data is not None else None,
        )

    def update(self) -> dict[str, float]:
        """One optimizer step over gradient_accumulation_steps micro-batches; returns its log row."""
        import torch

        cfg = self.cfg
        lr = float(self.lr_scheduler.get_last_lr()[0])
        total = 0.0
        for k in range(cfg.gradient_accumulation_steps):
            loss = self._loss(self.step * cfg.gradient_accumulation_steps + k) / cfg.gradient_accumulation_steps
            (self.scaler.scale(loss) if self.scaler else loss).backward()
            total += float(loss.detach())
        if self.scaler is not None:
            self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.params, cfg.max_grad_norm)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.lr_scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        if self.ema is not None:
            self.ema.step(self.params)
        self.step += 1
        row = {"step": float(self.step), "loss": total, "lr": lr}
        self.log.append(row)
        return row

    # --- validation, checkpoints, outputs -----------------------------------------------------------------
    @contextmanager
    def _final_weights(self) -> Any:
        """The EMA weights in place of the raw ones for the block (validation renders what would be saved)."""
        if self.ema is None:
            yield
            return
        self.ema.store(self.params)
        self.ema.copy_to(self.params)
        try:
            yield
        finally:
            self.ema.restore(self.params)

    def validate(self, validate: Callable[[list[Any], list[str]], dict[str, float]] | None) -> dict[str, float]:
        if self.cfg.method == "vae":
            self._train_mode(False)
            try:
                with self._final_weights():
                    path = self.out / "validation" / f"step-{self.step}.png"
                    return validate_vae(self.models.vae, self.validation_images, path, self.autocast)
            finally:
                self._train_mode(True)
        v = self.cfg.validation
        prompts = [p for p in v.prompts for _ in v.seeds]
        seeds = [s for _ in v.prompts for s in v.seeds]
        self._train_mode(False)
        try:
            with self._final_weights():
                images = render(
                    self.models.pipeline(),
                    prompts,
                    seeds,
                    guidance_scale=v.guidance_scale,
                    steps=v.inference_steps,
                    resolution=self.cfg.resolution,
                    autocast=self.autocast,
                )
        finally:
            self._train_mode(True)
        save_grid(images, len(v.prompts), self.out / "validation" / f"step-{self.step}.png")
        return {k: float(x) for k, x in validate(images, prompts).items()} if validate else {}

    def _stateful(self) -> dict[str, Any]:
        """What a checkpoint restores with state_dict / load_state_dict, besides the weights and RNG."""
        found = {"optimizer": self.optimizer, "lr_scheduler": self.lr_scheduler, "scaler": self.scaler, "ema": self.ema}
        return {name: obj for name, obj in found.items() if obj is not None}

    def save_checkpoint(self) -> Path:
        import torch

        objects = {name: obj.state_dict() for name, obj in self._stateful().items()}
        cuda = torch.cuda.get_rng_state_all() if self.device.type == "cuda" else []
        objects["rng"] = {"cpu": torch.get_rng_state(), "cuda": cuda}
        limit = self.cfg.checkpoints_total_limit
        return save_checkpoint(self.out, self.step, self.models.trainables(), objects, self.log, total_limit=limit)

    def restore(self, checkpoint: Checkpoint) -> None:
        import torch

        params, stateful = self.models.trainables(), self._stateful()
        if set(checkpoint.weights) != set(params) or set(stateful) | {"rng"} != set(checkpoint.objects):
            raise ValueError(
                f"checkpoint {checkpoint.folder} was written by a different kind of run (its trainable weights or "
                "saved state do not match this config): resume with the config that wrote it, or start a new --out"
            )
        with torch.no_grad():
            for name, param in params.items():
                param.copy_(checkpoint.weights[name])
        for name, obj in stateful.items():
            obj.load_state_dict(checkpoint.objects[name])
        if self.ema is not None:
            self.ema.to(self.device)
        torch.set_rng_state(checkpoint.objects["rng"]["cpu"])
        if checkpoint.objects["rng"]["cuda"]:
            torch.cuda.set_rng_state_all(checkpoint.objects["rng"]["cuda"])
        self.step, self.log = checkpoint.step, list(checkpoint.log)

    def finish(self) -> None:
        """Make the EMA weights final (if any) and save the adapters or the whole pipeline."""
        if self.ema is not None:
            self.ema.copy_to(self.params)
        self._train_mode(False)
        if self.cfg.method == "vae":
            factor = self.cfg.model.vae.scaling_factor if self.cfg.model else 0.0
            save_vae(self.out, self.models.vae, self.data, self.device, self.autocast, factor)
        elif self.cfg.trains_lora:
            text_encoder = self.models.text_encoder if self.cfg.lora.train_text_encoder else None
            save_lora(self.out, self.models.unet, text_encoder)
        else:
            save_pipeline(
                self.out,
                self.models.pipeline(),
                bundled_text_encoder=self.models.bundled_text,
                precision=self.cfg.save_precision,
            )

    def write_log(self) -> None:
        write_log(self.out, self.log)
        write_plot(self.out, self.log)
