"""Which instances of a dead host may be evacuated, and what the
destination does (pure). hvS died; this host is hvD."""

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._instance.evacuation_policy import (
    abandoned,
    destination_plan,
    powered_on_after,
    refusal,
)

S, D = 'hvS', 'hvD'


def rec(host=S, vm='active', task=None, migration=None, **extra):
    found = {'uuid': 'u-1', 'name': 'web1', 'host': host, 'vm_state': vm, 'task_state': task, 'migration': migration}
    found.update(extra)
    return found


@pytest.mark.parametrize('name, record, refused', [
    ('active', rec(), None),
    ('stopped', rec(vm='stopped'), None),
    ('error', rec(vm='error'), None),
    ('mid soft reboot: evacuated, the reboot abandoned', rec(task='reboot_started'), None),
    ('mid power-off', rec(task='powering-off'), None),
    ('a finished earlier move', rec(migration={'id': 'm', 'status': 'confirmed'}), None),
    ('on another host', rec(host='hvX'), 'names host hvX, not hvS'),
    ('deleted', rec(vm='deleted'), 'deleted'),
    ('soft-deleted', rec(vm='soft-delete'), 'deleted'),
    ('never built', rec(vm='building', task='spawning'), 'build never finished'),
    ('being deleted', rec(task='deleting'), 'being deleted'),
    ('mid cold migration', rec(task='resize_migrating', migration={'id': 'm', 'status': 'migrating'}),
     'middle of a move'),
    ('resized, awaiting confirm', rec(vm='resized', migration={'id': 'm', 'status': 'finished'}),
     'middle of a move'),
    ('mid live migration', rec(task='migrating', migration={'id': 'm', 'status': 'migrating'}), 'middle of a move'),
    ('an open migration without a task', rec(migration={'id': 'm', 'status': 'pre-migrating'}), 'middle of a move'),
    ('paused', rec(vm='paused'), 'vm_state paused cannot be evacuated'),
], ids=lambda v: v if isinstance(v, str) and ' ' in v or v in ('active', 'stopped', 'error', 'deleted', 'paused')
    else '')
def test_refusal(name, record, refused):
    found = refusal(record, S)
    if refused is None:
        assert found is None
    else:
        assert refused in found


def test_what_is_abandoned_and_what_runs_after():
    assert abandoned(rec(task='rebooting')) == 'rebooting' and abandoned(rec()) is None
    assert powered_on_after(rec()) and powered_on_after(rec(vm='error')) and not powered_on_after(rec(vm='stopped'))


def seen(root_disk=False, instance_dir=False, defined=False, name_taken_by=None):
    return {'root_disk': root_disk, 'instance_dir': instance_dir, 'defined': defined, 'name_taken_by': name_taken_by}


EVAC = {'id': 'e-1', 'migration_type': 'evacuation', 'source_compute': S, 'dest_compute': D, 'status': 'accepted',
        'shared_storage': False}


@pytest.mark.parametrize('name, local, migration, observed, kind, shared, reason', [
    ('nothing here: rebuilt from the image', None, None, seen(), 'rebuild', False, 'lost'),
    ('shared instances_path: the source\'s own record is here', rec(), None, seen(root_disk=True, instance_dir=True),
     'rebuild', True, 'disks kept'),
    ('shared, but the root disk is gone', rec(), None, seen(instance_dir=True), 'refuse', None,
     'root disk is not there'),
    ('an earlier attempt failed here', rec(host=D, vm='error', migration={'id': 'e-1'}), EVAC,
     seen(instance_dir=True), 'resume', False, 'did not finish'),
    ('an earlier shared attempt', rec(host=D, task='rebuild_spawning', migration={'id': 'e-1'}),
     dict(EVAC, shared_storage=True), seen(root_disk=True, instance_dir=True, defined=True), 'resume', True,
     'disks kept'),
    ('done already', rec(host=D, migration={'id': 'e-1'}), dict(EVAC, status='done'), seen(root_disk=True),
     'done', None, 'already evacuated'),
    ('completed already', rec(host=D, migration={'id': 'e-1'}), dict(EVAC, status='completed'), seen(), 'done',
     None, 'already evacuated'),
    ('this host\'s by an ordinary move', rec(host=D), None, seen(root_disk=True), 'done', None, 'already'),
    ('another host\'s per the record here', rec(host='hvX'), None, seen(), 'refuse', None, 'is on hvX'),
    ('a directory without a record', None, None, seen(instance_dir=True), 'refuse', None, 'no record'),
    ('a domain without a record', None, None, seen(defined=True), 'refuse', None, 'defined on this host'),
    ('the name is taken here', None, None, seen(name_taken_by='u-9'), 'refuse', None, 'another instance named'),
    ('the record here says it was deleted', rec(vm='deleted'), None, seen(root_disk=True), 'refuse', None,
     'deleted'),
], ids=lambda v: v if isinstance(v, str) and ' ' in v else '')
def test_destination_plan(name, local, migration, observed, kind, shared, reason):
    plan = destination_plan(rec(), local, migration, S, D, observed)
    assert (plan.kind, plan.shared) == (kind, shared)
    assert reason in plan.reason


def test_a_refused_last_record_is_refused_here():
    plan = destination_plan(rec(task='resize_migrating', migration={'id': 'm', 'status': 'migrating'}), None, None,
                            S, D, seen())
    assert plan.kind == 'refuse' and 'middle of a move' in plan.reason
