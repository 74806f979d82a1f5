"""Rebooter against a fake hypervisor and a real record store: the task
states are saved in Nova's order, each checked against the previous one;
failures leave vm_state active (still running) or error."""

import os

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import (
    HypervisorError,
    NovaliteError,
    UnexpectedTaskState,
)
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import PowerState
from ansible_collections.novalite.compute.plugins.module_utils._module.hypervisor import Hypervisor
from ansible_collections.novalite.compute.plugins.module_utils._reboot import reboot as _reboot
from ansible_collections.novalite.compute.plugins.module_utils._reboot.policy import plan_reboot
from ansible_collections.novalite.compute.plugins.module_utils._reboot.reboot import Rebooter
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import InstancePaths
from ansible_collections.novalite.compute.plugins.module_utils._store.records import ANY, InstanceRecord, RecordStore

UUID = '6a3e1c2d-2222-4b4b-8c8c-0123456789ab'
R, OFF = PowerState.RUNNING, PowerState.SHUTDOWN


class FakeGuest(object):
    def __init__(self, honours_acpi=True, fail_launch=False):
        self.state = R
        self.id = 3
        self.honours_acpi = honours_acpi
        self.fail_launch = fail_launch
        self.calls = []

    def power_state(self):
        return self.state

    def shutdown(self):
        self.calls.append('shutdown')
        if self.honours_acpi:
            self.state, self.id = OFF, -1

    def launch(self):
        self.calls.append('launch')
        if self.fail_launch:
            raise HypervisorError('starting domain failed: boom', code=1)
        self.state, self.id = R, 4

    def destroy(self):
        self.calls.append('destroy')
        self.state, self.id = OFF, -1

    def undefine(self, keep_nvram=False):
        self.calls.append('undefine keep_nvram=%s' % keep_nvram)


class FakeHost(object):
    def __init__(self, guest):
        self.guest = guest
        self.defined = []

    def guest_by_uuid(self, uuid):
        return self.guest

    def define(self, xml):
        self.defined.append(xml)
        return self.guest


class FakeRebuilder(object):
    def ensure(self, record):
        return []


@pytest.fixture
def setup(tmp_path, monkeypatch):
    paths = InstancePaths(str(tmp_path))
    store = RecordStore(paths, lock_timeout=1)
    os.makedirs(paths.instance_dir(UUID))
    record = InstanceRecord({
        'uuid': UUID, 'name': 'web1', 'vm_state': 'active', 'power_state': 'running', 'virt_type': 'qemu',
        'flavor': {'vcpus': 1, 'memory_mb': 64, 'root_gb': 0, 'ephemeral_gb': 0, 'swap_mb': 0},
        'image': {'url': 'file:///img'}, 'networks': [],
    })
    store.save(record)
    saved = []
    real_save = store.save

    def recording_save(rec, expected_task_state=ANY):
        result = real_save(rec, expected_task_state=expected_task_state)
        saved.append(rec.task_state)
        return result
    monkeypatch.setattr(store, 'save', recording_save)
    monkeypatch.setattr(_reboot, 'SOFT_POLL_INTERVAL', 0.01)

    def make(guest):
        rebooter = Rebooter(Hypervisor(FakeHost(guest), paths, store, 'hv1'))
        rebooter.rebuilder = FakeRebuilder()
        return rebooter
    return store, record, saved, make


def test_soft_reboot_saves_soft_task_states_in_order(setup):
    store, record, saved, make = setup
    guest = FakeGuest()
    result = make(guest).reboot(record, plan_reboot(record, 'soft', {'defined': True, 'power_state': 'running'}),
                                soft_timeout=5, wait_timeout=5)
    assert saved == ['rebooting', 'reboot_pending', 'reboot_started', None]
    assert guest.calls == ['shutdown', 'launch']
    assert result['fallback'] is None and result['domain_id'] == {'before': 3, 'after': 4}
    after = store.load(UUID)
    assert (after.vm_state, after.task_state, after.power_state) == ('active', None, 'running')
    events = [(a['action'], a['event']) for a in store.actions(UUID).entries()]
    assert events == [('reboot', 'start'), ('reboot', 'soft_reboot'), ('reboot', 'finish')]


def test_soft_timeout_falls_back_to_hard_under_the_soft_task_states(setup):
    store, record, saved, make = setup
    guest = FakeGuest(honours_acpi=False)
    result = make(guest).reboot(record, plan_reboot(record, 'soft', {'defined': True, 'power_state': 'running'}),
                                soft_timeout=0.05, wait_timeout=5)
    assert saved == ['rebooting', 'reboot_pending', 'reboot_started', None]
    assert result['fallback'] == 'hard' and 'did not shut down' in result['fallback_reason']
    assert guest.calls == ['shutdown', 'destroy', 'undefine keep_nvram=True', 'launch']


def test_hard_reboot_saves_hard_task_states(setup):
    store, record, saved, make = setup
    guest = FakeGuest()
    rebooter = make(guest)
    rebooter.reboot(record, plan_reboot(record, 'hard', {'defined': True, 'power_state': 'running'}),
                    wait_timeout=5)
    assert saved == ['rebooting_hard', 'reboot_pending_hard', 'reboot_started_hard', None]
    assert len(rebooter.host.defined) == 1 and UUID in rebooter.host.defined[0]


def test_changed_task_state_on_disk_refuses_without_touching_anything(setup):
    store, record, saved, make = setup
    stale = store.load(UUID)
    stale.task_state = 'powering-off'         # another operation got there first
    store.save(stale)
    saved.clear()
    guest = FakeGuest()
    with pytest.raises(UnexpectedTaskState):
        make(guest).reboot(record, plan_reboot(record, 'soft', {'defined': True, 'power_state': 'running'}))
    assert saved == [] and guest.calls == []
    assert store.load(UUID).task_state == 'powering-off'


def test_failure_with_guest_still_running_keeps_active_and_records_the_fault(setup, monkeypatch):
    store, record, _saved, make = setup
    guest = FakeGuest()

    def broken(*_args, **_kwargs):
        raise HypervisorError('rebuilding failed: disk full')
    rebooter = make(guest)
    monkeypatch.setattr(rebooter.rebuilder, 'ensure', broken)   # fails before the destroy
    with pytest.raises(HypervisorError) as info:
        rebooter.reboot(record, plan_reboot(record, 'hard', {'defined': True, 'power_state': 'running'}))
    assert info.value.step == 'recreate files' and info.value.instance == 'web1 (%s)' % UUID
    after = store.load(UUID)
    assert (after.vm_state, after.task_state, after.power_state) == ('active', None, 'running')
    assert after.fault['action'] == 'reboot' and 'disk full' in after.fault['message']
    assert guest.calls == []
    assert [a['event'] for a in store.actions(UUID).entries()][-1] == 'error'


def test_failure_with_guest_down_sets_error(setup):
    store, record, _saved, make = setup
    guest = FakeGuest(fail_launch=True)
    with pytest.raises(HypervisorError) as info:
        make(guest).reboot(record, plan_reboot(record, 'hard', {'defined': True, 'power_state': 'running'}))
    assert info.value.step == 'start domain'
    after = store.load(UUID)
    assert (after.vm_state, after.task_state, after.power_state) == ('error', None, 'shutdown')


def test_os_errors_are_reported_with_instance_and_step(setup, monkeypatch):
    store, record, _saved, make = setup
    guest = FakeGuest()

    def disk_full(*_args, **_kwargs):
        raise OSError(28, 'No space left on device')
    rebooter = make(guest)
    monkeypatch.setattr(rebooter.rebuilder, 'ensure', disk_full)
    with pytest.raises(NovaliteError) as info:
        rebooter.reboot(record, plan_reboot(record, 'hard', {'defined': True, 'power_state': 'running'}))
    assert info.value.step == 'recreate files' and 'No space left on device' in info.value.message
    after = store.load(UUID)
    assert (after.vm_state, after.task_state) == ('active', None) and 'No space' in after.fault['message']
