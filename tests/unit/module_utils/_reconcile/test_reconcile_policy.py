"""state_reconcile's two tables, every row (pure: no libvirt)."""

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._reconcile.policy import Action, changes, recover, sync
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord

HERE, OTHER = 'hv1', 'hv2'


def rec(vm='active', task=None, power='running', migration=None, old_vm_state=None):
    return InstanceRecord({'uuid': 'u-1', 'name': 'web1', 'host': HERE, 'vm_state': vm, 'task_state': task,
                           'power_state': power, 'migration': migration,
                           'system_metadata': {'old_vm_state': old_vm_state} if old_vm_state else {}})


def seen(power='running', defined=True, instance_dir=True, resize_dir=False):
    return {'defined': defined, 'power_state': power if defined else None, 'instance_dir': instance_dir,
            'resize_dir': resize_dir}


OFF = seen('shutdown')
GONE = seen(defined=False)


def kinds(actions):
    return [(a.kind, a.params) for a in actions]


@pytest.mark.parametrize('record, observed, owner, resume, expected', [
    # owned elsewhere: a leftover domain goes (disks kept), unless a migration is in flight
    (rec(), seen(), OTHER, False, [('destroy_domain', {})]),
    (rec(), GONE, OTHER, False, [('note', {})]),
    (rec(task='resize_migrated', migration={'id': 'm', 'status': 'post-migrating'}), OFF, OTHER, False,
     [('note', {})]),
    (rec(migration={'id': 'm', 'status': 'confirmed'}), OFF, OTHER, False, [('destroy_domain', {})]),
    # nothing to recover
    (rec('soft-delete'), OFF, HERE, False, [('note', {})]),
    (rec('error'), OFF, HERE, False, [('note', {})]),
    (rec('error', 'rebooting'), OFF, HERE, False, [('note', {})]),
    # deleted: complete a partial deletion
    (rec('deleted'), seen('running'), HERE, False, [('complete_deletion', {})]),
    (rec('deleted'), seen(defined=False, instance_dir=True), HERE, False, [('complete_deletion', {})]),
    (rec('deleted'), seen(defined=False, instance_dir=False), HERE, False, []),
    # interrupted builds and rebuilds
    (rec('building', 'spawning'), GONE, HERE, False, [('set_error', {})]),
    (rec('building', None), GONE, HERE, False, [('set_error', {})]),
    (rec('active', 'networking'), GONE, HERE, False, [('set_error', {})]),
    (rec('active', 'scheduling'), GONE, HERE, False, [('set_error', {})]),
    (rec('active', 'block_device_mapping'), GONE, HERE, False, [('set_error', {})]),
    (rec('active', 'rebuilding'), seen(), HERE, False, [('set_error', {})]),
    (rec('stopped', 'rebuild_spawning'), OFF, HERE, False, [('set_error', {})]),
    # snapshot states and resize_prep: task state cleared
    (rec('active', 'image_snapshot'), seen(), HERE, False, [('clear_task_state', {})]),
    (rec('active', 'image_uploading'), seen(), HERE, False, [('clear_task_state', {})]),
    (rec('active', 'resize_prep'), seen(), HERE, False, [('clear_task_state', {})]),
    # deletion interrupted
    (rec('active', 'deleting'), seen(), HERE, False, [('finish_deletion', {})]),
    (rec('error', 'deleting'), OFF, HERE, False, [('finish_deletion', {})]),
    # reboots
    (rec('active', 'reboot_pending'), seen(), HERE, False,
     [('reboot', {'type': 'soft', 'from_task_state': 'reboot_pending'})]),
    (rec('active', 'rebooting'), seen(), HERE, False,
     [('reboot', {'type': 'soft', 'from_task_state': 'rebooting'})]),
    (rec('active', 'reboot_pending'), OFF, HERE, False,
     [('reboot', {'type': 'hard', 'from_task_state': 'reboot_pending'})]),
    (rec('active', 'reboot_started'), OFF, HERE, False,
     [('reboot', {'type': 'hard', 'from_task_state': 'reboot_started'})]),
    (rec('active', 'reboot_pending_hard'), seen(), HERE, False,
     [('reboot', {'type': 'hard', 'from_task_state': 'reboot_pending_hard'})]),
    (rec('error', 'reboot_pending_hard'), OFF, HERE, False, [('note', {})]),   # error: left alone first
    (rec('active', 'reboot_started_hard'), GONE, HERE, False,
     [('reboot', {'type': 'hard', 'from_task_state': 'reboot_started_hard'})]),
    (rec('active', 'reboot_started'), seen(), HERE, False, [('clear_task_state', {'vm_state': 'active'})]),
    (rec('active', 'reboot_started_hard'), seen(), HERE, False, [('clear_task_state', {'vm_state': 'active'})]),
    (rec('active', 'unpausing'), seen(), HERE, False, [('clear_task_state', {'vm_state': 'active'})]),
    # power operations interrupted
    (rec('active', 'powering-off'), seen(), HERE, False, [('stop', {})]),
    (rec('stopped', 'powering-on'), OFF, HERE, False, [('start', {})]),
    # migration interrupted on the source
    (rec('active', 'resize_migrating', old_vm_state='active'), OFF, HERE, False,
     [('revert_migration', {'power_on': True})]),
    (rec('stopped', 'resize_migrating', old_vm_state='stopped'), OFF, HERE, False,
     [('revert_migration', {'power_on': False})]),
    (rec('error', 'resize_migrating', old_vm_state='active'), OFF, HERE, False,
     [('revert_migration', {'power_on': True})]),
    (rec('resized', 'resize_finish'), OFF, HERE, False, [('note', {})]),
    (rec('active', 'resize_migrated'), OFF, HERE, False, [('note', {})]),
    # record says running, libvirt does not
    (rec('active', None, 'running'), OFF, HERE, True, [('resume', {})]),
    (rec('active', None, 'running'), GONE, HERE, True, [('resume', {})]),
    (rec('active', None, 'running'), OFF, HERE, False, []),
    # all well
    (rec(), seen(), HERE, True, []),
    (rec('stopped', None, 'shutdown'), OFF, HERE, True, []),
])
def test_recovery_table(record, observed, owner, resume, expected):
    actions = recover(record, observed, owner, HERE, resume_guests_state_on_host_boot=resume)
    assert kinds(actions) == expected
    assert all(a.reason for a in actions)


@pytest.mark.parametrize('record, observed, owner, expected', [
    (rec(), OFF, OTHER, [('note', {})]),
    (rec('active', 'rebooting'), OFF, HERE, [('note', {})]),
    (rec(), seen(), HERE, []),
    (rec('active', None, 'running'), OFF, HERE,
     [('record_power_state', {'power_state': 'shutdown'}), ('sync_stop', {})]),
    (rec('active', None, 'running'), seen('crashed'), HERE,
     [('record_power_state', {'power_state': 'crashed'}), ('sync_stop', {})]),
    (rec('active', None, 'running'), seen('suspended'), HERE,
     [('record_power_state', {'power_state': 'suspended'}), ('sync_stop', {})]),
    (rec('active', None, 'running'), seen('paused'), HERE,
     [('record_power_state', {'power_state': 'paused'}), ('note', {})]),
    (rec('active', None, 'running'), GONE, HERE,
     [('record_power_state', {'power_state': 'nostate'}), ('note', {})]),
    (rec('stopped', None, 'shutdown'), seen('running'), HERE,
     [('record_power_state', {'power_state': 'running'}), ('force_stop', {})]),
    (rec('stopped', None, 'shutdown'), seen('paused'), HERE,
     [('record_power_state', {'power_state': 'paused'}), ('force_stop', {})]),
    (rec('stopped', None, 'shutdown'), OFF, HERE, []),
    (rec('stopped', None, 'shutdown'), seen('crashed'), HERE, [('record_power_state', {'power_state': 'crashed'})]),
    (rec('paused', None, 'paused'), OFF, HERE,
     [('record_power_state', {'power_state': 'shutdown'}), ('force_stop', {})]),
    (rec('paused', None, 'paused'), seen('paused'), HERE, []),
    (rec('deleted', None, 'nostate'), seen('running'), HERE,
     [('record_power_state', {'power_state': 'running'}), ('note', {})]),
    (rec('soft-delete', None, 'shutdown'), seen('running'), HERE,
     [('record_power_state', {'power_state': 'running'}), ('note', {})]),
    (rec('error', None, 'running'), OFF, HERE, [('record_power_state', {'power_state': 'shutdown'})]),
])
def test_sync_table(record, observed, owner, expected):
    assert kinds(sync(record, observed, owner, HERE)) == expected


def test_changes_ignores_notes():
    assert not changes([Action('note', 'x')]) and changes([Action('note', 'x'), Action('stop', 'y')])
    with pytest.raises(ValueError):
        Action('explode', 'no')
