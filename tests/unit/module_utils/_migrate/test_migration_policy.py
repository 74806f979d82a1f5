"""Cold migration / resize rules as tables (pure: no libvirt)."""

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import (
    InstanceInvalidState,
    InstanceLocked,
    InvalidInput,
    MigrationError,
)
from ansible_collections.novalite.compute.plugins.module_utils._migrate.policy import (
    check_capacity,
    check_status,
    claim_for,
    plan_move,
    power_on_after,
    vm_state_after_confirm,
)
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord

FLAVOR = {'vcpus': 1, 'memory_mb': 128, 'root_gb': 1, 'ephemeral_gb': 1, 'swap_mb': 16}


def record(vm_state='active', task_state=None, locked=False, host='a'):
    return InstanceRecord({'uuid': 'u-1', 'name': 'web1', 'vm_state': vm_state, 'task_state': task_state,
                           'locked': locked, 'host': host, 'flavor': dict(FLAVOR)})


@pytest.mark.parametrize('rec, dest, flavor, kind, same', [
    (record(), 'b', None, 'migration', False),
    (record('stopped'), 'b', None, 'migration', False),
    (record(), 'b', dict(FLAVOR, vcpus=2), 'resize', False),
    (record(), 'a', dict(FLAVOR, memory_mb=256), 'resize', True),
    (record(), 'b', dict(FLAVOR, root_gb=2, ephemeral_gb=3), 'resize', False),
    (record(), 'b', dict(FLAVOR, swap_mb=0), 'resize', False),       # swap may shrink: it is recreated
    (record(), 'b', dict(FLAVOR), 'migration', False),                # same flavor = cold migration
])
def test_plan_table(rec, dest, flavor, kind, same):
    move = plan_move(rec, 'a', dest, flavor)
    assert move['migration_type'] == kind and move['same_host'] is same
    assert move['old_vm_state'] == rec.vm_state and move['source_compute'] == 'a'


@pytest.mark.parametrize('rec, dest, flavor, error, text', [
    (record(), 'b', dict(FLAVOR, root_gb=0), InvalidInput, 'Unable to resize disk down: root_gb 1 -> 0'),
    (record(), 'b', dict(FLAVOR, ephemeral_gb=0), InvalidInput, 'Unable to resize disk down: ephemeral_gb'),
    (record(), 'a', None, InvalidInput, 'nothing to do'),
    (record(locked=True), 'b', None, InstanceLocked, 'locked'),
    (record(host='c'), 'b', None, InstanceInvalidState, 'owned by host c'),
    (record('building'), 'b', None, InstanceInvalidState, 'vm_state building'),
    (record('error'), 'b', None, InstanceInvalidState, 'vm_state error'),
    (record('resized'), 'b', None, InstanceInvalidState, 'vm_state resized'),
    (record(task_state='rebooting'), 'b', None, InstanceInvalidState, 'task_state rebooting'),
    (record(task_state='resize_migrating'), 'b', None, InstanceInvalidState, 'task_state resize_migrating'),
])
def test_refusals(rec, dest, flavor, error, text):
    with pytest.raises(error, match=text):
        plan_move(rec, 'a', dest, flavor)


def test_claim_counts_copied_bytes_and_new_swap():
    disks = [{'allocated_bytes': 1000, 'copy': True}, {'allocated_bytes': 500, 'copy': False},
             {'allocated_bytes': 20, 'copy': True}]
    assert claim_for(dict(FLAVOR, swap_mb=2), disks) == {'memory_mb': 128, 'disk_bytes': 1020 + 2 * 1024 * 1024}


@pytest.mark.parametrize('free_mem, free_disk, claimed, text', [
    (100, 10 ** 9, (0, 0), 'not enough memory on b: the new flavor needs 128 MiB, 100 MiB are free'),
    (300, 10 ** 9, (200, 0), 'after 200 MiB claimed'),
    (1000, 500, (0, 0), 'not enough disk on b'),
    (1000, 5000, (0, 4500), 'after 4500 claimed'),
])
def test_capacity_refusals(free_mem, free_disk, claimed, text):
    with pytest.raises(MigrationError, match=text):
        check_capacity({'memory_mb': 128, 'disk_bytes': 1000}, free_mem, free_disk, claimed, 'b')


def test_capacity_fits():
    check_capacity({'memory_mb': 128, 'disk_bytes': 1000}, 128, 1000, (0, 0), 'b')


@pytest.mark.parametrize('step, status, allowed', [
    ('prep', 'pre-migrating', True), ('migrate', 'pre-migrating', True), ('migrate', 'migrating', False),
    ('finish', 'post-migrating', True), ('finish', 'migrating', False),
    ('confirm', 'finished', True), ('confirm', 'confirming', True), ('confirm', 'post-migrating', False),
    ('confirm', 'reverted', False),
    ('revert', 'finished', True), ('revert', 'migrating', True), ('revert', 'error', True),
    ('revert', 'pre-migrating', True), ('revert', 'confirmed', False),
])
def test_status_table(step, status, allowed):
    migration = {'id': 'm-1', 'status': status}
    if allowed:
        check_status(migration, step)
    else:
        with pytest.raises(MigrationError, match="migration m-1 is %s" % status):
            check_status(migration, step)


@pytest.mark.parametrize('power, vm_state', [('shutdown', 'stopped'), ('running', 'active'), ('paused', 'active')])
def test_vm_state_after_confirm(power, vm_state):
    assert vm_state_after_confirm(power) == vm_state


def test_power_on_after():
    assert power_on_after('active') is True and power_on_after('stopped') is False
