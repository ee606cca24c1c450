"""`promptopt train`: a training TOML and flags to a validated config, the training data, validation, and
the run itself (`train_model`); the training code is `promptopt.generators.training`.
"""

from promptopt.train.run import train_model
from promptopt.train.setup import RunConfig, build_run_config
from promptopt.train.validation import KidValidator

__all__ = ["KidValidator", "RunConfig", "build_run_config", "train_model"]
