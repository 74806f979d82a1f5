"""How unfinished moves end and who owns what, from every host's report
(pure: no libvirt). Each row names the crash it stands for."""

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._reconcile.fleet_policy import (
    fleet_view,
    migration_actions,
    outcome_of,
)
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord

S, D = 'hvS', 'hvD'
MID = 'm-1'
UUID = 'u-1'


def copy(status, source=S, dest=D, updated='2026-01-01T00:00:01Z'):
    return {'id': MID, 'instance_uuid': UUID, 'instance_name': 'web1', 'source_compute': source,
            'dest_compute': dest, 'status': status, 'updated_at': updated}


def summary(host, task=None, vm='active', migration_id=MID, updated='2026-01-01T00:00:01Z'):
    return {'uuid': UUID, 'name': 'web1', 'host': host, 'vm_state': vm, 'task_state': task,
            'power_state': 'shutdown', 'updated_at': updated, 'migration_id': migration_id}


@pytest.mark.parametrize('copies, records, reported, kind, owner, final', [
    # confirm cut short on the destination, or confirmed there but not on the source
    ({S: copy('post-migrating'), D: copy('confirming')}, {D: summary(D)}, {S, D}, 'confirm', D, None),
    ({S: copy('post-migrating'), D: copy('confirmed')}, {D: summary(D)}, {S, D}, 'confirm', D, None),
    # a revert cut short
    ({S: copy('post-migrating'), D: copy('reverting')}, {D: summary(D, vm='resized')}, {S, D}, 'revert', S,
     'reverted'),
    # a finish that failed on the destination (which holds the record): revert, the record comes back
    ({S: copy('post-migrating'), D: copy('error')}, {D: summary(D, vm='error')}, {S, D}, 'revert', S, 'reverted'),
    # the source rolled itself back after a failed copy; the destination still claims
    ({S: copy('error'), D: copy('pre-migrating')}, {S: summary(S)}, {S, D}, 'revert', S, 'error'),
    # killed after the record reached the destination (hand-over completed) ...
    ({S: copy('post-migrating'), D: copy('post-migrating')},
     {S: summary(S, 'resize_migrating'), D: summary(D, 'resize_migrated')}, {S, D}, 'finish', D, None),
    # ... or during finish
    ({S: copy('post-migrating'), D: copy('post-migrating')},
     {S: summary(D, 'resize_migrated'), D: summary(D, 'resize_finish')}, {S, D}, 'finish', D, None),
    # killed between sending the migration and the record: not handed over
    ({S: copy('post-migrating'), D: copy('post-migrating')}, {S: summary(S, 'resize_migrating')}, {S, D},
     'revert', S, 'error'),
    # killed while copying; at prep; before prep
    ({S: copy('migrating'), D: copy('pre-migrating')}, {S: summary(S, 'resize_migrating')}, {S, D}, 'revert', S,
     'error'),
    ({S: copy('pre-migrating')}, {S: summary(S, 'resize_prep')}, {S, D}, 'revert', S, 'error'),
    # the destination did not report: the source decides only what it can know
    ({S: copy('migrating')}, {S: summary(S, 'resize_migrating')}, {S}, 'revert', S, 'error'),
    ({S: copy('post-migrating')}, {S: summary(S, 'resize_migrating')}, {S}, 'unknown', None, None),
    ({S: copy('post-migrating')}, {S: summary(D, 'resize_migrated')}, {S}, 'finish', D, None),
    # the source did not report: the destination never gives up a claim on its own
    ({D: copy('pre-migrating')}, {}, {D}, 'unknown', None, None),
    ({D: copy('post-migrating')}, {D: summary(D, 'resize_migrated')}, {D}, 'finish', D, None),
    # a same-host resize: the record's task state tells whether the hand-over happened
    ({S: copy('migrating', dest=S)}, {S: summary(S, 'resize_migrating')}, {S}, 'revert', S, 'error'),
    ({S: copy('post-migrating', dest=S)}, {S: summary(S, 'resize_migrating')}, {S}, 'revert', S, 'error'),
    ({S: copy('post-migrating', dest=S)}, {S: summary(S, 'resize_finish')}, {S}, 'finish', S, None),
    ({S: copy('finished', dest=S)}, {S: summary(S, vm='resized')}, {S}, 'finish', S, None),
])
def test_outcome(copies, records, reported, kind, owner, final):
    found = outcome_of(copies, records, reported)
    assert (found.kind, found.owner, found.final_status) == (kind, owner, final), found.reason


def test_fleet_view_skips_finished_moves_and_owns_by_outcome():
    done = dict(copy('confirmed'), id='m-0', updated_at='2025-01-01T00:00:00Z')
    reports = [
        {'compute_host': S, 'records': [summary(S, 'resize_migrating', updated='2026-01-01T00:00:09Z')],
         'migrations': [dict(done), copy('post-migrating')]},
        {'compute_host': D, 'records': [summary(D, 'resize_migrated')],
         'migrations': [dict(done), copy('post-migrating')]},
    ]
    owners, outcomes = fleet_view(reports)
    assert list(outcomes) == [MID] and outcomes[MID].kind == 'finish'
    assert owners == {UUID: D}          # the newer record on S still says S: the outcome decides
    owners, outcomes = fleet_view([dict(reports[0], migrations=[done])])
    assert outcomes == {} and owners == {UUID: S}


def record(host, task=None, vm='active', migration_status='post-migrating'):
    return InstanceRecord({'uuid': UUID, 'name': 'web1', 'host': host, 'vm_state': vm, 'task_state': task,
                           'migration': {'id': MID, 'status': migration_status}})


def seen(defined=False, instance_dir=False, resize_dir=False, probe=False):
    return {'defined': defined, 'instance_dir': instance_dir, 'resize_dir': resize_dir, 'probe': probe}


def out(copies, records, reported=(S, D)):
    return outcome_of(copies, records, set(reported))


def kinds(actions):
    return [(a.kind, dict((k, v) for k, v in a.params.items() if k in ('side', 'restore', 'final_status')))
            for a in actions]


HANDED = out({S: copy('post-migrating'), D: copy('post-migrating')},
             {S: summary(S, 'resize_migrating'), D: summary(D, 'resize_migrated')})
NOT_HANDED = out({S: copy('post-migrating'), D: copy('post-migrating')}, {S: summary(S, 'resize_migrating')})
CONFIRMING = out({S: copy('post-migrating'), D: copy('confirming')}, {D: summary(D, vm='resized')})
CONFIRMED = out({S: copy('post-migrating'), D: copy('confirmed')}, {D: summary(D)})
D_HOLDS_REVERTING = out({S: copy('finished'), D: copy('reverting')}, {S: summary(D), D: summary(D, vm='resized')})
D_HANDED_BACK = out({S: copy('finished'), D: copy('reverted')}, {S: summary(D), D: summary(S)})


@pytest.mark.parametrize('outcome, host, rec, mig, observed, expected', [
    # hand-over completed: the destination finishes, the source's record follows
    (HANDED, D, record(D, 'resize_migrated'), copy('post-migrating'), seen(instance_dir=True),
     [('finish_migration', {})]),
    (HANDED, D, record(D, 'resize_finish'), copy('post-migrating'), seen(True, True), [('finish_migration', {})]),
    (HANDED, D, record(D, vm='resized'), copy('finished'), dict(seen(True, True), power_state='running'), []),
    # finished, but the guest died with its host: finished again, which starts it
    (HANDED, D, record(D, vm='resized'), copy('finished'), dict(seen(True, True), power_state='shutdown'),
     [('finish_migration', {})]),
    (HANDED, S, record(S, 'resize_migrating'), copy('post-migrating'), seen(True, resize_dir=True),
     [('complete_handover', {})]),
    (HANDED, S, record(D, 'resize_migrated'), copy('post-migrating'), seen(True, resize_dir=True), []),
    # not handed over: the destination's copy goes, the source restores
    (NOT_HANDED, D, None, copy('post-migrating'), seen(instance_dir=True, probe=True),
     [('revert_migration', {'side': 'dest', 'final_status': 'error'})]),
    (NOT_HANDED, D, None, None, seen(probe=True), [('revert_migration', {'side': 'dest', 'final_status': 'error'})]),
    (NOT_HANDED, D, None, copy('error'), seen(), []),
    (NOT_HANDED, S, record(S, 'resize_migrating'), copy('post-migrating'), seen(True, resize_dir=True),
     [('revert_migration', {'side': 'source', 'restore': True, 'final_status': 'error'})]),
    (NOT_HANDED, S, record(S, None, migration_status='pre-migrating'), copy('pre-migrating'), seen(True, True),
     [('revert_migration', {'side': 'source', 'restore': False, 'final_status': 'error'})]),
    (NOT_HANDED, S, record(S), copy('error'), seen(True, True), []),
    # a confirm cut short: the destination first; the source only once it has confirmed
    (CONFIRMING, D, record(D, vm='resized'), copy('confirming'), seen(True, True),
     [('confirm_migration', {'side': 'dest'})]),
    (CONFIRMING, S, record(D, 'resize_migrated'), copy('post-migrating'), seen(True, resize_dir=True),
     [('note', {})]),
    (CONFIRMED, S, record(D, 'resize_migrated'), copy('post-migrating'), seen(True, resize_dir=True),
     [('confirm_migration', {'side': 'source'})]),
    (CONFIRMED, S, record(D, migration_status='confirmed'), copy('confirmed'), seen(), []),
    # a revert cut short on the destination: it finishes; the source waits for the record to come back
    (D_HOLDS_REVERTING, D, record(D, vm='resized'), copy('reverting'), seen(True, True),
     [('revert_migration', {'side': 'dest', 'final_status': 'reverted'})]),
    (D_HOLDS_REVERTING, S, record(D, 'resize_migrated'), copy('finished'), seen(True, resize_dir=True),
     [('note', {})]),
    (D_HANDED_BACK, S, record(D, 'resize_migrated'), copy('finished'), seen(True, resize_dir=True),
     [('revert_migration', {'side': 'source', 'restore': True, 'final_status': 'reverted'})]),
])
def test_migration_actions(outcome, host, rec, mig, observed, expected):
    assert kinds(migration_actions(outcome, host, rec, mig, observed)) == expected


def test_unknown_outcome_only_explains():
    unknown = out({S: copy('post-migrating')}, {S: summary(S, 'resize_migrating')}, reported=(S,))
    actions = migration_actions(unknown, S, record(S, 'resize_migrating'), copy('post-migrating'),
                                seen(True, resize_dir=True))
    assert kinds(actions) == [('note', {})] and 'did not report' in actions[0].reason
