"""Scorers for generated images. Never imports `promptopt`; heavy imports happen inside functions."""

from promptopt.scorers.base import Scorer

__all__ = ["Scorer"]
