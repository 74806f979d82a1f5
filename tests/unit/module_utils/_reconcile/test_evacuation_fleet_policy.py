"""How an evacuation ends when the reconcile playbook reads the hosts
(pure). S is the host that died, D the one it was evacuated to. Each row
names what happened."""

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._reconcile.fleet_policy import (
    fleet_view,
    migration_actions,
    outcome_of,
)
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord

S, D = 'hvS', 'hvD'
MID = 'e-1'
UUID = 'u-1'


def copy(status, shared=False):
    return {'id': MID, 'instance_uuid': UUID, 'instance_name': 'web1', 'source_compute': S, 'dest_compute': D,
            'status': status, 'migration_type': 'evacuation', 'shared_storage': shared,
            'updated_at': '2026-12-01T00:00:01Z'}


def summary(host, task=None, vm='active', migration_id=MID, updated='2026-12-01T00:00:01Z'):
    return {'uuid': UUID, 'name': 'web1', 'host': host, 'vm_state': vm, 'task_state': task,
            'power_state': 'running', 'updated_at': updated, 'migration_id': migration_id}


STALE = summary(S, migration_id=None, updated='2026-11-01T00:00:00Z')       # the dead host's own record


@pytest.mark.parametrize('name, copies, records, reported, kind, owner', [
    ('done, the source is back', {D: copy('done')}, {D: summary(D), S: STALE}, {S, D}, 'evacuated', D),
    ('done, the source still down', {D: copy('done')}, {D: summary(D)}, {D}, 'evacuated', D),
    ('finish cut short between record and migration', {D: copy('accepted')}, {D: summary(D), S: STALE}, {S, D},
     'evacuated', D),
    ('cut short mid-rebuild, the source is back: rolled back', {D: copy('accepted')},
     {D: summary(D, task='rebuild_spawning'), S: STALE}, {S, D}, 'evacuation_rollback', S),
    ('failed (record in error), the source is back: rolled back', {D: copy('accepted')},
     {D: summary(D, vm='error'), S: STALE}, {S, D}, 'evacuation_rollback', S),
    ('cut short, the source still down', {D: copy('accepted')}, {D: summary(D, task='rebuilding')}, {D},
     'evacuating', D),
    ('the destination did not report: nothing is known', {S: copy('done', shared=True)}, {S: STALE}, {S},
     'unknown', None),
    ('shared storage: one copy seen by both', {S: copy('done', shared=True), D: copy('done', shared=True)},
     {S: summary(D), D: summary(D)}, {S, D}, 'evacuated', D),
], ids=lambda v: v if isinstance(v, str) and ' ' in v else '')
def test_outcome(name, copies, records, reported, kind, owner):
    found = outcome_of(copies, records, reported)
    assert (found.kind, found.owner) == (kind, owner)


def test_the_outcome_decides_the_owner_over_a_newer_stale_record():
    """The returned host's power sync may have touched its old record last:
    the evacuation still makes the destination the owner."""
    reports = [{'compute_host': S, 'records': [summary(S, migration_id=None, updated='2026-12-09T00:00:00Z')],
                'migrations': []},
               {'compute_host': D, 'records': [summary(D)], 'migrations': [copy('done')]}]
    owners, outcomes = fleet_view(reports)
    assert owners == {UUID: D} and outcomes[MID].kind == 'evacuated'


def test_a_completed_evacuation_is_left_out():
    reports = [{'compute_host': S, 'records': [], 'migrations': [copy('completed')]},
               {'compute_host': D, 'records': [summary(D)], 'migrations': [copy('completed')]}]
    _owners, outcomes = fleet_view(reports)
    assert outcomes == {}


def record(host, task=None, vm='active', migration_id=MID):
    return InstanceRecord({'uuid': UUID, 'name': 'web1', 'host': host, 'vm_state': vm, 'task_state': task,
                           'migration': {'id': migration_id, 'status': 'accepted'} if migration_id else None,
                           'system_metadata': {'old_vm_state': 'active'}})


def seen(defined=False, instance_dir=False, resize_dir=False):
    return {'defined': defined, 'instance_dir': instance_dir, 'resize_dir': resize_dir, 'probe': False}


def actions_of(copies, records, reported, host, rec, mig, observed):
    outcome = outcome_of(copies, records, set(reported))
    return [(a.kind, a.params) for a in migration_actions(outcome, host, rec, mig, observed)]


DONE_REPORTS = ({D: copy('done')}, {D: summary(D), S: STALE}, (S, D))
DONE_SHARED = ({D: copy('done', shared=True), S: copy('done', shared=True)}, {D: summary(D), S: summary(D)}, (S, D))
ROLLBACK_REPORTS = ({D: copy('accepted')}, {D: summary(D, task='rebuild_spawning'), S: STALE}, (S, D))


@pytest.mark.parametrize('name, reports, host, rec, mig, observed, expected', [
    ('the source cleans up: domain, disks, record, its copy', DONE_REPORTS, S,
     record(S, migration_id=None), None, seen(defined=True, instance_dir=True),
     [('clean_evacuated', {'shared': False})]),
    ('the source was cleaned up already', DONE_REPORTS, S, record(D, migration_id=MID), copy('completed'),
     seen(), []),
    ('a cleanup cut short after the disks went: done again', DONE_REPORTS, S, record(S, migration_id=None), None,
     seen(), [('clean_evacuated', {'shared': False})]),
    ('shared storage: the source only destroys its domain', DONE_SHARED, S, record(D), copy('done', shared=True),
     seen(defined=True, instance_dir=True), [('clean_evacuated', {'shared': True})]),
    ('the destination waits for the source to clean up', DONE_REPORTS, D, record(D), copy('done'),
     seen(defined=True, instance_dir=True), []),
    ('the destination completes once the source has',
     ({D: copy('done'), S: copy('completed')}, {D: summary(D), S: summary(D)}, (S, D)), D, record(D), copy('done'),
     seen(defined=True, instance_dir=True), [('complete_evacuation', {'final_status': 'completed'})]),
    ('a finish cut short between its writes is marked done',
     ({D: copy('accepted')}, {D: summary(D)}, (D,)), D, record(D), copy('accepted'), seen(defined=True),
     [('complete_evacuation', {'final_status': 'done'})]),
    ('rolled back: the destination removes what it built', ROLLBACK_REPORTS, D,
     record(D, task='rebuild_spawning'), copy('accepted'), seen(defined=True, instance_dir=True),
     [('rollback_evacuation', {'shared': False})]),
    ('rolled back: the source waits for the record', ROLLBACK_REPORTS, S, record(S, migration_id=None), None,
     seen(defined=True, instance_dir=True), []),
    ('rolled back already', ROLLBACK_REPORTS, D, record(S), copy('error'), seen(), []),
    ('still down, cut short mid-rebuild: error, to be run again',
     ({D: copy('accepted')}, {D: summary(D, task='rebuilding')}, (D,)), D, record(D, task='rebuilding'),
     copy('accepted'), seen(instance_dir=True), [('set_error', {})]),
    ('still down, already in error: left for the next evacuate run',
     ({D: copy('accepted')}, {D: summary(D, vm='error')}, (D,)), D, record(D, vm='error'), copy('accepted'),
     seen(instance_dir=True), []),
], ids=lambda v: v if isinstance(v, str) and ' ' in v else '')
def test_evacuation_actions(name, reports, host, rec, mig, observed, expected):
    copies, records, reported = reports
    assert actions_of(copies, records, reported, host, rec, mig, observed) == expected


def test_a_rollback_planned_before_the_evacuation_finished_is_not_carried_out():
    """The plan was made from reports read while the evacuation ran; under
    the lock the record is finished: nothing is rolled back."""
    found = actions_of(*ROLLBACK_REPORTS, host=D, rec=record(D), mig=copy('done'), observed=seen(defined=True))
    assert [kind for kind, _params in found] == ['note']
