import pytest

from promptopt.generators.training.config import (
    LR_SCHEDULERS,
    DreamBoothConfig,
    ModelInitConfig,
    TrainConfig,
    ValidationConfig,
)


def test_lr_schedulers_are_diffusers_scheduler_types():
    from diffusers.optimization import SchedulerType

    assert set(LR_SCHEDULERS) == {s.value for s in SchedulerType} - {"piecewise_constant"}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"resolution": 30}, "resolution must be a positive multiple of 8"),
        ({"method": "textual-inversion"}, "method must be one of full, lora, dreambooth-lora"),
        ({"lr_scheduler": "warmup_cosine"}, "lr_scheduler must be one of"),
        ({"mixed_precision": "fp16", "device": "cpu"}, "fp16 mixed precision needs a CUDA device; use bf16 or no"),
        ({"mixed_precision": "fp8"}, "mixed_precision must be one of no, fp16, bf16"),
        ({"prediction_type": "sample"}, "prediction_type must be one of epsilon, v_prediction"),
        ({"snr_gamma": 0.0}, "snr_gamma must be > 0"),
        ({"base": ""}, "no model: give base"),
        ({"model": ModelInitConfig()}, "give either base"),
        ({"base": "", "model": ModelInitConfig(), "method": "lora"}, "use method full"),
        ({"max_train_steps": 0}, "max_train_steps must be at least 1"),
    ],
)
def test_bad_values_raise_naming_the_field(changes, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**{"base": "tiny-random", **changes})


def test_validation_needs_prompts_when_on():
    with pytest.raises(ValueError, match="validation.prompts or seeds is empty"):
        TrainConfig(base="tiny-random", validation=ValidationConfig(steps=5))
    TrainConfig(model=ModelInitConfig(), method="vae", validation=ValidationConfig(steps=5))  # reconstructs
    assert ValidationConfig(steps=5, prompts=("a polyp",)).seeds == (0, 1)


def test_dreambooth_prompts_use_the_category_token():
    cfg = DreamBoothConfig(token="sks", tokens={"instrument": "zwx"})
    assert cfg.instance_for("polyp") == "an endoscopic image of sks polyp"
    assert cfg.instance_for("instrument") == "an endoscopic image of zwx instrument"
    assert cfg.class_for("polyp") == "an endoscopic image of polyp"
    with pytest.raises(ValueError, match=r"must contain \{token\}"):
        DreamBoothConfig(instance_prompt="a photo of {category}")


def test_model_init_defaults_and_checks():
    assert ModelInitConfig(block_out_channels=(32, 64, 64)).attention_levels == (False, True, True)
    with pytest.raises(ValueError, match="multiples of norm_num_groups"):
        ModelInitConfig(block_out_channels=(48, 64))
    with pytest.raises(ValueError, match="one true/false per entry"):
        ModelInitConfig(block_out_channels=(32, 64), cross_attention=(True,))
