"""SIGINT and SIGTERM as a stop request that a cleanup polls, for the length of one run."""

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class StopRequest:
    """Which signal asked the run to stop, if any."""

    received: signal.Signals | None = None

    def requested(self) -> bool:
        return self.received is not None


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """Inside, the first SIGINT or SIGTERM sets the request instead of ending the process.

    A second one meets the handlers that were there before, for a run stuck before its next
    poll. Python installs handlers only in the main thread; elsewhere the request stays unset.
    """
    stop = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    def on_signal(signum: int, _frame: object) -> None:
        stop.received = signal.Signals(signum)
        restore()

    for signum in STOP_SIGNALS:
        signal.signal(signum, on_signal)
    try:
        yield stop
    finally:
        restore()
