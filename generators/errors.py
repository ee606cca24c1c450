"""What a user can fix about a generator: both messages name the setting or the model and the fix. Both are
`InputError`s, so the command line prints either as one line."""

from __future__ import annotations

from promptopt.core.errors import InputError


class GeneratorInputError(InputError):
    """A generator setting this model or machine cannot honour; the message names the setting and the fix."""


class ModelNotFoundError(InputError):
    """The named model (or adapter) is neither on disk nor reachable on the hub."""
