"""instance_reboot's rules as tables (pure: no libvirt)."""

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import InstanceInvalidState, InstanceLocked
from ansible_collections.novalite.compute.plugins.module_utils._reboot.policy import (
    check_can_reboot,
    plan_reboot,
    state_after_failure,
)
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord

ON = {'defined': True, 'power_state': 'running'}
OFF = {'defined': True, 'power_state': 'shutdown'}
CRASHED = {'defined': True, 'power_state': 'crashed'}
PAUSED = {'defined': True, 'power_state': 'paused'}
GONE = {'defined': False, 'power_state': None}


def record(vm_state='active', task_state=None, locked=False):
    return InstanceRecord({'uuid': 'u-1', 'name': 'web1', 'vm_state': vm_state, 'task_state': task_state,
                           'locked': locked})


@pytest.mark.parametrize('rec, kind, seen, method, reason', [
    (record(), 'soft', ON, 'soft', 'soft reboot requested'),
    (record(), 'hard', ON, 'hard', 'hard reboot requested'),
    # soft reboot of an instance that does not run goes the hard way (a start)
    (record(), 'soft', OFF, 'hard', 'not running (power state shutdown)'),
    (record(), 'soft', CRASHED, 'hard', 'not running (power state crashed)'),
    (record(), 'soft', PAUSED, 'hard', 'not running (power state paused)'),
    (record('stopped'), 'soft', OFF, 'hard', 'not running'),
    (record(), 'soft', GONE, 'hard', 'not defined'),
    # hard reboot is the repair path: error, stopped, undefined domain
    (record('error'), 'hard', GONE, 'hard', 'hard reboot requested'),
    (record('stopped'), 'hard', OFF, 'hard', 'hard reboot requested'),
    (record('paused'), 'hard', PAUSED, 'hard', 'hard reboot requested'),
    (record('suspended'), 'hard', OFF, 'hard', 'hard reboot requested'),
    # a hard reboot takes over an interrupted reboot of either kind
    (record(task_state='reboot_started'), 'hard', OFF, 'hard', 'hard reboot requested'),
    (record(task_state='rebooting'), 'hard', ON, 'hard', 'hard reboot requested'),
    (record(task_state='reboot_pending_hard'), 'hard', ON, 'hard', 'hard reboot requested'),
])
def test_plan_table(rec, kind, seen, method, reason):
    planned = plan_reboot(rec, kind, seen)
    assert planned['type'] == kind and planned['method'] == method
    assert reason in planned['reason']


def test_task_states_follow_the_requested_type():
    assert plan_reboot(record(), 'soft', OFF)['task_states'] == ['rebooting', 'reboot_pending', 'reboot_started']
    assert plan_reboot(record(), 'hard', ON)['task_states'] == [
        'rebooting_hard', 'reboot_pending_hard', 'reboot_started_hard']


@pytest.mark.parametrize('rec, kind, error, text', [
    (record(locked=True), 'soft', InstanceLocked, 'locked'),
    (record(locked=True), 'hard', InstanceLocked, 'locked'),
    (record('building', 'spawning'), 'hard', InstanceInvalidState, 'vm_state building'),
    (record('building'), 'soft', InstanceInvalidState, 'vm_state building'),
    (record('deleted'), 'hard', InstanceInvalidState, 'vm_state deleted'),
    (record('soft-delete'), 'hard', InstanceInvalidState, 'vm_state soft-delete'),
    (record('resized'), 'hard', InstanceInvalidState, 'vm_state resized'),
    (record('rescued'), 'soft', InstanceInvalidState, 'vm_state rescued'),
    (record('error'), 'soft', InstanceInvalidState, 'vm_state error'),
    (record('paused'), 'soft', InstanceInvalidState, 'vm_state paused'),
    (record(task_state='resize_migrating'), 'hard', InstanceInvalidState, 'resize or migration is in progress'),
    (record(task_state='resize_prep'), 'soft', InstanceInvalidState, 'resize or migration is in progress'),
    (record('stopped', 'resize_finish'), 'hard', InstanceInvalidState, 'task_state resize_finish'),
    (record(task_state='powering-off'), 'hard', InstanceInvalidState, 'task_state powering-off'),
    (record(task_state='deleting'), 'hard', InstanceInvalidState, 'task_state deleting'),
    (record(task_state='reboot_started'), 'soft', InstanceInvalidState, 'a hard reboot takes over'),
])
def test_refusals(rec, kind, error, text):
    with pytest.raises(error, match=text) as info:
        check_can_reboot(rec, kind)
    assert info.value.instance == 'web1 (u-1)'


@pytest.mark.parametrize('power, vm_state', [
    ('running', 'active'), ('shutdown', 'error'), ('crashed', 'error'), ('nostate', 'error'), ('paused', 'error'),
])
def test_state_after_failure(power, vm_state):
    assert state_after_failure(power) == vm_state
