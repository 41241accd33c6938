"""Stop signals: the first asks to stop, a second interrupts, except during a save."""

import os
import signal

import pytest

from charrnn_edu.signals import Interrupted, StopSignals


def test_signals_during_a_save_wait_for_it(tmp_path):
    saved = []
    with pytest.raises(Interrupted) as info, StopSignals() as stop:
        with stop.deferred():
            os.kill(os.getpid(), signal.SIGTERM)
            os.kill(os.getpid(), signal.SIGINT)
            saved.append("the whole save ran")
        # Unblocked: the first signal asks to stop, the second one interrupts, only now.
        for _ in range(1000):
            pass
    assert saved == ["the whole save ran"]
    # Pending signals arrive in the order of their numbers, not of their sending.
    assert {stop.signum, info.value.signum} == {signal.SIGTERM, signal.SIGINT}
    assert stop.exit_code == 128 + stop.signum


def test_a_second_signal_outside_a_save_interrupts():
    with pytest.raises(Interrupted) as info, StopSignals() as stop:
        os.kill(os.getpid(), signal.SIGHUP)
        assert stop.exit_code == 129
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(1000):
            pass
    assert info.value.signum == signal.SIGINT
