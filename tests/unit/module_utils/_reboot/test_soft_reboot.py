"""The soft reboot loop against a scripted fake guest on a fake clock."""

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import WaitTimeout
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import PowerState
from ansible_collections.novalite.compute.plugins.module_utils._reboot.reboot import (
    REBOOTED_BY_GUEST,
    RESTARTED,
    soft_reboot,
)

import pytest

R, OFF, CRASH, NO = PowerState.RUNNING, PowerState.SHUTDOWN, PowerState.CRASHED, PowerState.NOSTATE


class Clock(object):
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert seconds > 0
        self.now += seconds


class FakeGuest(object):
    """Each look (power_state(), then id) takes the next scripted
    (id, state); the last one repeats. launch() switches to ``after_launch``."""

    def __init__(self, script, after_launch=None):
        self.script = list(script)
        self.after_launch = list(after_launch or [])
        self.calls = []
        self.looks = 0

    def _entry(self, index):
        return self.script[min(index, len(self.script) - 1)]

    def power_state(self):
        self.looks += 1
        return self._entry(self.looks - 1)[1]

    @property
    def id(self):
        return self._entry(max(self.looks - 1, 0))[0]

    def shutdown(self):
        self.calls.append('shutdown')

    def launch(self):
        self.calls.append('launch')
        self.script = self.after_launch or [(9, R)]
        self.looks = 0


def run(guest, timeout=10):
    clock = Clock()
    started = clock.now
    outcome = soft_reboot(lambda: guest, timeout, wait_timeout=5, clock=clock, sleep=clock.sleep)
    return outcome, clock.now - started


def test_guest_shuts_down_and_is_started_again():
    # running (id 4) -> ACPI -> still running a while -> shut off (id -1) -> launched (id 5)
    guest = FakeGuest([(4, R), (4, R), (4, R), (4, R), (-1, OFF)], after_launch=[(5, NO), (5, R)])
    outcome, elapsed = run(guest)
    assert outcome == RESTARTED
    assert guest.calls == ['shutdown', 'launch']
    assert guest.id == 5
    assert elapsed < 10


def test_crashed_guest_is_started_again():
    guest = FakeGuest([(4, R), (-1, CRASH)], after_launch=[(6, R)])
    assert run(guest)[0] == RESTARTED
    assert guest.calls == ['shutdown', 'launch']


def test_new_domain_id_already_running_means_the_guest_rebooted_itself():
    guest = FakeGuest([(4, R), (4, R), (7, R)])
    assert run(guest)[0] == REBOOTED_BY_GUEST
    assert guest.calls == ['shutdown']


def test_guest_ignoring_acpi_times_out_for_the_hard_fallback():
    guest = FakeGuest([(4, R)])
    outcome, elapsed = run(guest, timeout=10)
    assert outcome is None
    assert guest.calls == ['shutdown']
    assert 10 <= elapsed < 10.5


def test_guest_that_never_runs_again_after_the_start_raises():
    guest = FakeGuest([(4, R), (-1, OFF)], after_launch=[(5, NO)])
    with pytest.raises(WaitTimeout):
        run(guest)


def test_undefined_domain_returns_none_without_acting():
    clock = Clock()
    assert soft_reboot(lambda: None, 10, clock=clock, sleep=clock.sleep) is None
