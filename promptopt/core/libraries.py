"""The libraries' own chatter: diffusers' and transformers' download/loading progress bars and info logs, silenced
for a command's output or a bench's figures."""

from __future__ import annotations

import os


def quiet_libraries() -> None:
    """Silence the download/loading progress bars and info logs of diffusers and transformers."""
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    diffusers_logging.set_verbosity_error()
    diffusers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
