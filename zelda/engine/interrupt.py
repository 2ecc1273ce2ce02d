"""Ctrl-C and SIGTERM (pre-emption) stop training at a safe point, not mid-write."""

import logging
import os
import signal
import threading
from typing import Any, Callable

from zelda.engine.distributed import any_rank

log = logging.getLogger(__name__)
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """Training stopped on request after saving its state."""


class GracefulStop:
    """While active, the first SIGINT/SIGTERM asks the loop to stop at its next safe
    point (after the current step); a second one exits at once."""

    def __init__(self) -> None:
        self.requested: int | None = None
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> "GracefulStop":
        if threading.current_thread() is threading.main_thread():
            self.previous = {sig: signal.signal(sig, self.handle) for sig in SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)

    def handle(self, signum: int, frame: object) -> None:
        if self.requested is not None:
            log.error("second %s: exiting now, without saving", signal.Signals(signum).name)
            os._exit(128 + signum)
        self.requested = signum
        log.warning("%s received: stopping after this step (send it again to exit at once)",
                    signal.Signals(signum).name)

    def check(self, save: Callable[[], None]) -> None:
        """At a safe point: if a stop was requested, save and raise `Interrupted`.

        Under DDP a signal may reach one rank only (or reach them between different steps):
        the ranks agree in one collective, so all stop at the same step. A rank that went on
        alone would wait forever in its next collective, and rank 0, which saves, might be it.
        Every rank calls `save` (it may hold collectives too).
        """
        if not any_rank(self.requested is not None):
            return
        save()
        cause = signal.Signals(self.requested).name if self.requested is not None else "a signal to another rank"
        raise Interrupted(f"stopped by {cause}; state saved in last.pt")
