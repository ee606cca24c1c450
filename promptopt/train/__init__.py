"""`promptopt train`: a training TOML and flags to a validated config, the training data, validation, and
the run itself (`train_model`); the training code is `promptopt.generators.training`.
"""

from promptopt.core.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "run": ("train_model",),
        "setup": (
            "RunConfig",
            "build_run_config",
        ),
        "validation": ("KidValidator",),
    },
)
