"""wait_for on a fake monotonic clock: completion, refusal, timeout."""

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import InstanceInvalidState, WaitTimeout
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import PowerState
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.power import from_libvirt, wait_for


class FakeClock(object):
    def __init__(self):
        self.now = 100.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def scripted(*states):
    seq = list(states)
    return lambda: seq.pop(0) if len(seq) > 1 else seq[0]


def test_completes_and_backs_off_with_a_cap():
    clock = FakeClock()
    get = scripted(*([PowerState.NOSTATE] * 8 + [PowerState.RUNNING]))
    assert wait_for(get, {PowerState.RUNNING}, timeout=60, clock=clock, sleep=clock.sleep) == PowerState.RUNNING
    assert clock.sleeps[:4] == [0.1, 0.2, 0.4, 0.8] and max(clock.sleeps) == 1.0


def test_timeout_carries_last_state():
    clock = FakeClock()
    with pytest.raises(WaitTimeout) as info:
        wait_for(lambda: PowerState.PAUSED, {PowerState.RUNNING}, timeout=5, clock=clock, sleep=clock.sleep)
    assert info.value.last_state == 'paused'
    assert 'timed out after 5s' in str(info.value) and 'last seen paused' in str(info.value)
    assert clock.now == pytest.approx(105.0)


def test_unexpected_state_fails_fast():
    clock = FakeClock()
    with pytest.raises(InstanceInvalidState, match='unexpected power state shutdown'):
        wait_for(scripted(PowerState.NOSTATE, PowerState.SHUTDOWN), {PowerState.RUNNING},
                 allowed={PowerState.NOSTATE}, timeout=60, clock=clock, sleep=clock.sleep)


def test_libvirt_mapping():
    import libvirt
    assert from_libvirt(libvirt.VIR_DOMAIN_SHUTOFF) == PowerState.SHUTDOWN
    assert from_libvirt(libvirt.VIR_DOMAIN_SHUTDOWN) == PowerState.RUNNING
    assert from_libvirt(libvirt.VIR_DOMAIN_PMSUSPENDED) == PowerState.SUSPENDED
    assert from_libvirt(99) == PowerState.NOSTATE
