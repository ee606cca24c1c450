"""What a user can fix about a generator: both messages name the setting or the model and the fix."""

from __future__ import annotations


class GeneratorInputError(ValueError):
    """A generator setting this model or machine cannot honour; the message names the setting and the fix."""


class ModelNotFoundError(FileNotFoundError):
    """The named model (or adapter) is neither on disk nor reachable on the hub."""
