"""Ctrl-C ends a search at its next render batch: the first SIGINT (or SIGTERM) asks to stop, a second one of
either interrupts at once (either way the running trial is failed, its files removed and its parameters queued
again for the next run; completed trials are kept)."""

from __future__ import annotations

import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

TRAINING_STOP = "saving a checkpoint after the current step, then stopping"  # the message of a training run's flag


class StopFlag:
    def __init__(
        self, message: str = "stopping at the next render batch (the running trial is run again on resume)"
    ) -> None:
        self.requested = False
        self.message = message

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(f"\n{self.message} (Ctrl-C or SIGTERM again to stop at once)", file=sys.stderr, flush=True)

    @contextmanager
    def installed(self) -> Iterator[StopFlag]:
        """Handle SIGINT and SIGTERM while the block runs (main thread only; elsewhere a no-op)."""
        try:
            previous = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}
        except ValueError:  # not in the main thread
            yield self
            return
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
