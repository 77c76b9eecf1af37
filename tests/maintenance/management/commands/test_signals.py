"""SIGINT and SIGTERM become a stop request only while a cleanup command runs.

Real signals, sent to this process with os.kill; the handlers before and after are
Python's own (KeyboardInterrupt for SIGINT, the default for SIGTERM).
"""

import os
import signal
import threading

import pytest

from maintenance.management.commands._signals import StopRequest, stop_on_signals


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_the_first_signal_sets_the_request_and_gives_the_old_handler_back(
    signum: signal.Signals,
) -> None:
    before = {each: signal.getsignal(each) for each in (signal.SIGINT, signal.SIGTERM)}
    with stop_on_signals() as stop:
        assert stop.requested() is False
        os.kill(os.getpid(), signum)  # handled before os.kill returns to the next line
        assert (stop.requested(), stop.received) == (True, signum)
        # A second signal meets the previous handlers: the way out of a stuck run.
        assert {each: signal.getsignal(each) for each in before} == before
    assert {each: signal.getsignal(each) for each in before} == before


def test_the_handlers_are_restored_when_the_run_ends_without_a_signal() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with stop_on_signals() as stop:
        assert signal.getsignal(signal.SIGTERM) != before
    assert signal.getsignal(signal.SIGTERM) == before
    assert stop == StopRequest(received=None)


def test_outside_the_main_thread_nothing_is_installed_and_nothing_is_requested() -> None:
    seen: list[object] = []
    before = signal.getsignal(signal.SIGINT)  # SIG_IGN under nohup or a CI runner

    def in_a_thread() -> None:
        with stop_on_signals() as stop:
            seen.extend([stop.requested(), signal.getsignal(signal.SIGINT)])

    worker = threading.Thread(target=in_a_thread)
    worker.start()
    worker.join()
    assert seen == [False, before]
