"""Text-to-image generators. Never imports `promptopt`; heavy imports happen inside functions."""

from promptopt.generators.base import Generator, GeneratorConfig

__all__ = ["Generator", "GeneratorConfig"]
