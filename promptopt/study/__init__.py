"""A study: its config (frozen dataclasses from a TOML, overridden per section by the command line),
which TOML a command runs, and the generator, scorers and target it names.

- `config`: `StudyConfig` and its sections, `load_study`, `from_dict`, `with_study`/`with_generator`/`with_export`;
- `lookup`: `--study`, `studies/<category>.toml` or the bundled study, and a study aimed at a `--target`;
- `factory`: `build_generator`, `build_realism`, `build_scorers` and `study_target`.
"""

from promptopt.core.lazy import lazy_exports

__all__, __getattr__ = lazy_exports(
    __name__,
    {
        "config": (
            "StudyConfig",
            "from_dict",
            "load_study",
        ),
        "factory": (
            "build_generator",
            "build_realism",
            "build_scorers",
            "generator_for",
            "study_target",
        ),
        "lookup": (
            "find_study",
            "for_target",
            "load_for",
            "targeted",
        ),
    },
)
