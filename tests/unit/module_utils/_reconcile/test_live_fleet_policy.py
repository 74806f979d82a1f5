# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How an unfinished live migration ends, judged from every host's copy of
it and what each host sees of the guest's domain (pure: no libvirt), then
what each host does about it; and how fleet_policy hands live migrations
to these rules instead of the cold ones. Each row names the case it
stands for."""

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._reconcile.fleet_policy import (
    fleet_view,
    migration_actions,
    migration_summary,
    outcome_of,
)
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.live_fleet_policy import (
    LIVE,
    LIVE_FINISH,
    LIVE_ROLLBACK,
    domain_report,
    is_live,
    live_actions,
    live_outcome,
)
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord

S, D = 'hvS', 'hvD'
MID = 'm-live-1'
UUID = 'u-live-1'
FINISH, ROLLBACK, UNKNOWN = LIVE_FINISH, LIVE_ROLLBACK, 'unknown'


def live(status, domain=None, persistent=False, job=False, shared=False, updated='2026-01-01T00:00:01Z'):
    """One host's report of its copy of the live migration, with what it
    sees of the instance's domain (``domain``: its power state or None)."""
    copy = {'id': MID, 'instance_uuid': UUID, 'instance_name': 'web1', 'source_compute': S, 'dest_compute': D,
            'status': status, 'updated_at': updated, 'migration_type': LIVE, 'shared_storage': shared}
    copy.update(domain_report(domain, persistent, job))
    return copy


def summary(host, task='migrating', migration_id=MID):
    return {'uuid': UUID, 'name': 'web1', 'host': host, 'vm_state': 'active', 'task_state': task,
            'power_state': 'running', 'updated_at': '2026-01-01T00:00:01Z', 'migration_id': migration_id}


def built(kind, reason, owner=None, final=None):
    """The ``outcome`` callback live_outcome builds its answer with."""
    return {'kind': kind, 'reason': reason, 'owner': owner, 'final': final}


RUNNING_SRC = live('migrating', 'running', True)

# (copies by host, hosts that reported, kind, owner, final status, a word of the reason)
OUTCOMES = [
    # -- a copy says completed: the destination finishes, whatever else is seen
    pytest.param({S: live('completed'), D: live('post-migrating', 'running', True)}, {S, D},
                 FINISH, D, None, 'completed', id='source-copy-completed'),
    pytest.param({S: live('post-migrating'), D: live('completed', 'running', True)}, {S, D},
                 FINISH, D, None, 'completed', id='dest-copy-completed'),
    pytest.param({S: live('completed')}, {S}, FINISH, D, None, 'completed',
                 id='completed-even-though-dest-did-not-report'),
    pytest.param({S: live('completed', 'running', True, job=True), D: live('post-migrating')}, {S, D},
                 FINISH, D, None, 'completed', id='completed-beats-a-job-still-seen'),
    # -- a host that could tell did not report
    pytest.param({S: RUNNING_SRC}, {S}, UNKNOWN, None, None, 'only hvD can tell', id='dest-did-not-report'),
    pytest.param({D: live('pre-migrating', 'paused', True, job=True)}, {D}, UNKNOWN, None, None,
                 'only hvS can tell', id='source-did-not-report'),
    pytest.param({S: live('migrating')}, set(), UNKNOWN, None, None, 'only hvS and hvD can tell',
                 id='neither-reported'),
    # -- libvirt's job still runs on the source: it may still complete or fail
    pytest.param({S: live('migrating', 'running', True, job=True), D: live('pre-migrating', 'paused', True)},
                 {S, D}, UNKNOWN, None, None, "job still runs on hvS", id='job-on-source'),
    pytest.param({S: live('migrating', 'running', True, job=True), D: live('pre-migrating', 'running', True)},
                 {S, D}, UNKNOWN, None, None, "job still runs on hvS", id='job-on-source-guest-runs-on-dest'),
    pytest.param({S: live('cancelled', 'running', True, job=True), D: live('pre-migrating')},
                 {S, D}, UNKNOWN, None, None, "job still runs on hvS", id='job-outlives-a-closed-source-copy'),
    # -- where the guest runs
    pytest.param({S: live('migrating'), D: live('pre-migrating', 'running', True)}, {S, D},
                 FINISH, D, None, 'runs on the destination', id='running-on-dest-only'),
    pytest.param({S: live('migrating'), D: live('pre-migrating', 'paused', False, job=True)}, {S, D},
                 FINISH, D, None, 'runs on the destination', id='paused-on-dest-only-incoming-job-is-not-the-source'),
    pytest.param({S: live('post-migrating', 'shutdown', True), D: live('post-migrating', 'running', True)},
                 {S, D}, FINISH, D, None, 'runs on the destination', id='running-on-dest-source-left-shut-off'),
    pytest.param({S: live('error'), D: live('pre-migrating', 'running', True)}, {S, D},
                 FINISH, D, None, 'runs on the destination', id='source-said-error-but-guest-runs-on-dest'),
    pytest.param({S: RUNNING_SRC, D: live('pre-migrating')}, {S, D},
                 ROLLBACK, S, 'error', 'runs on the source', id='running-on-source-only'),
    pytest.param({S: live('migrating', 'paused', True), D: live('pre-migrating', 'shutdown', True)}, {S, D},
                 ROLLBACK, S, 'error', 'runs on the source', id='paused-on-source-dest-defined-off'),
    pytest.param({S: live('cancelled', 'running', True), D: live('pre-migrating')}, {S, D},
                 ROLLBACK, S, 'cancelled', 'runs on the source', id='aborted-job-final-cancelled'),
    pytest.param({S: live('migrating', 'running', True), D: live('cancelled')}, {S, D},
                 ROLLBACK, S, 'cancelled', 'runs on the source', id='cancelled-on-either-copy'),
    pytest.param({S: RUNNING_SRC}, {S, D}, ROLLBACK, S, 'error', 'runs on the source',
                 id='dest-reported-without-a-copy-prep-never-ran'),
    pytest.param({S: live('migrating', 'running', True), D: live('pre-migrating', 'running', True)}, {S, D},
                 UNKNOWN, None, None, 'decide by hand', id='running-on-both-post-copy-cut-short'),
    pytest.param({S: live('migrating', 'paused', True), D: live('pre-migrating', 'running', True)}, {S, D},
                 UNKNOWN, None, None, 'decide by hand', id='paused-source-running-dest'),
    # -- the guest runs nowhere
    pytest.param({S: live('migrating'), D: live('pre-migrating', 'shutdown', True)}, {S, D},
                 FINISH, D, None, 'destination holds its definition', id='nowhere-dest-persistent-source-none'),
    pytest.param({S: live('migrating'), D: live('pre-migrating', 'crashed', True)}, {S, D},
                 FINISH, D, None, 'destination holds its definition', id='nowhere-dest-crashed-persistent'),
    pytest.param({S: live('migrating', 'shutdown', True), D: live('pre-migrating', 'shutdown', True)}, {S, D},
                 ROLLBACK, S, 'error', 'source keeps it', id='nowhere-both-hold-a-definition'),
    pytest.param({S: live('migrating'), D: live('pre-migrating', 'shutdown', False)}, {S, D},
                 ROLLBACK, S, 'error', 'source keeps it', id='nowhere-dest-transient'),
    pytest.param({S: live('migrating'), D: live('pre-migrating')}, {S, D},
                 ROLLBACK, S, 'error', 'source keeps it', id='nowhere-no-domain-anywhere'),
    pytest.param({S: live('migrating', 'crashed', True), D: live('pre-migrating')}, {S, D},
                 ROLLBACK, S, 'error', 'source keeps it', id='nowhere-source-crashed'),
    pytest.param({S: live('cancelled'), D: live('pre-migrating')}, {S, D},
                 ROLLBACK, S, 'cancelled', 'source keeps it', id='nowhere-after-an-abort'),
]


@pytest.mark.parametrize('copies, reported, kind, owner, final, reason', OUTCOMES)
def test_live_outcome(copies, reported, kind, owner, final, reason):
    found = live_outcome(copies, reported, built)
    assert (found['kind'], found['owner'], found['final']) == (kind, owner, final), found['reason']
    assert reason in found['reason']


@pytest.mark.parametrize('copies, reported, kind, owner, final, reason', OUTCOMES)
def test_outcome_of_dispatches_every_live_migration_to_the_live_rules(copies, reported, kind, owner, final, reason):
    records = {S: summary(S), D: summary(D, task='migrating')}
    found = outcome_of(copies, records, set(reported))
    assert (found.kind, found.owner, found.final_status) == (kind, owner, final), found.reason
    assert reason in found.reason
    assert (found.id, found.instance_uuid, found.source, found.dest) == (MID, UUID, S, D)


def test_the_cold_rules_would_judge_the_same_copies_otherwise():
    """The same statuses without migration_type: the cold rules (a copy in
    error -> revert); as a live migration the running guest decides."""
    copies = {S: live('error'), D: live('pre-migrating', 'running', True)}
    cold = dict((host, dict(copy, migration_type='migration')) for host, copy in copies.items())
    assert outcome_of(cold, {}, {S, D}).kind == 'revert'
    assert outcome_of(copies, {}, {S, D}).kind == FINISH


def test_the_outcome_does_not_depend_on_which_host_sorts_first():
    copies = {'a-src': dict(live('migrating', 'running', True), source_compute='a-src', dest_compute='z-dst'),
              'z-dst': dict(live('pre-migrating'), source_compute='a-src', dest_compute='z-dst')}
    assert live_outcome(copies, {'a-src', 'z-dst'}, built)['owner'] == 'a-src'
    copies = {'z-src': dict(live('migrating', 'running', True), source_compute='z-src', dest_compute='a-dst'),
              'a-dst': dict(live('pre-migrating'), source_compute='z-src', dest_compute='a-dst')}
    assert live_outcome(copies, {'z-src', 'a-dst'}, built)['owner'] == 'z-src'


@pytest.mark.parametrize('migration, expected', [
    pytest.param({'migration_type': LIVE}, True, id='live'),
    pytest.param({'migration_type': 'migration'}, False, id='cold'),
    pytest.param({'migration_type': 'resize'}, False, id='resize'),
    pytest.param({}, False, id='no-type'),
    pytest.param(None, False, id='no-copy'),
])
def test_is_live(migration, expected):
    assert is_live(migration) is expected


def test_a_live_summary_carries_what_the_host_sees_of_the_domain():
    migration = dict(live('migrating'), disks=[{'name': 'disk'}], live={'dest_uri': 'qemu+ssh://hvD/system'})
    for field in ('domain', 'persistent', 'job'):
        del migration[field]
    seen = migration_summary(migration, domain_report('paused', True, True))
    assert (seen['domain'], seen['persistent'], seen['job']) == ('paused', True, True)
    assert seen['shared_storage'] is False and seen['migration_type'] == LIVE
    assert 'disks' not in seen and 'live' not in seen
    assert not {'domain', 'persistent', 'job'} & set(migration_summary(migration))
    assert not {'domain', 'persistent', 'job'} & set(migration_summary(migration, None))


# -- the fleet ---------------------------------------------------------------------------------
def reports(source_copy, dest_copy, source_records=(), dest_records=()):
    return [{'compute_host': S, 'records': list(source_records), 'migrations': [source_copy]},
            {'compute_host': D, 'records': list(dest_records), 'migrations': [dest_copy]}]


def test_fleet_view_owns_a_live_guest_where_it_runs():
    newer_on_source = dict(summary(S), updated_at='2026-01-01T00:00:09Z')
    owners, outcomes = fleet_view(reports(live('post-migrating', 'shutdown', True),
                                          live('pre-migrating', 'running', True),
                                          [newer_on_source], [summary(D)]))
    assert list(outcomes) == [MID] and outcomes[MID].kind == FINISH
    assert owners == {UUID: D}         # the source's newer record still names it: the outcome decides


def test_fleet_view_rolls_back_to_the_source_and_leaves_unknown_unowned():
    newer_on_dest = dict(summary(D), updated_at='2026-01-01T00:00:09Z')
    owners, outcomes = fleet_view(reports(RUNNING_SRC, live('pre-migrating'), [summary(S)], [newer_on_dest]))
    assert outcomes[MID].kind == ROLLBACK and owners == {UUID: S}
    owners, outcomes = fleet_view(reports(live('migrating', 'running', True), live('pre-migrating', 'running', True),
                                          [summary(S)]))
    assert outcomes[MID].kind == UNKNOWN and outcomes[MID].owner is None
    assert owners == {UUID: S}          # no owner from the move: the record's host stays


def test_fleet_view_leaves_out_a_live_migration_closed_on_every_host():
    owners, outcomes = fleet_view(reports(live('cancelled', 'running', True), live('error'), [summary(S, None)]))
    assert outcomes == {} and owners == {UUID: S}


# -- what one host does ---------------------------------------------------------------------------
def out(copies, reported=(S, D)):
    return outcome_of(copies, {}, set(reported))


def record(host, task='migrating', migration_id=MID):
    return InstanceRecord({'uuid': UUID, 'name': 'web1', 'host': host, 'vm_state': 'active', 'task_state': task,
                           'migration': {'id': migration_id, 'status': 'migrating', 'migration_type': LIVE}})


def seen(defined=False, power=None, instance_dir=False, probe=False):
    return {'defined': defined, 'power_state': power, 'instance_dir': instance_dir, 'resize_dir': False,
            'probe': probe}


def kinds(actions):
    return [(a.kind, dict((k, v) for k, v in a.params.items() if k in ('side', 'final_status'))) for a in actions]


ON_DEST = out({S: live('post-migrating'), D: live('post-migrating', 'running', True)})
COMPLETED = out({S: live('completed'), D: live('completed', 'running', True)})
ON_SOURCE = out({S: RUNNING_SRC, D: live('pre-migrating')})
ON_SOURCE_ABORTED = out({S: live('cancelled', 'running', True), D: live('pre-migrating')})


def test_the_shared_outcomes_are_what_the_tables_below_assume():
    assert [(o.kind, o.owner, o.final_status) for o in (ON_DEST, COMPLETED, ON_SOURCE, ON_SOURCE_ABORTED)] == [
        (FINISH, D, None), (FINISH, D, None), (ROLLBACK, S, 'error'), (ROLLBACK, S, 'cancelled')]


DEST_ROLLBACK = ('rollback_live_migration', {'side': 'dest', 'final_status': 'error'})
SOURCE_ROLLBACK = ('rollback_live_migration', {'side': 'source', 'final_status': 'error'})


@pytest.mark.parametrize('outcome, host, rec, mig, observed, expected', [
    # -- finish: on the destination, once it holds the record and a domain
    pytest.param(ON_DEST, D, record(D), live('post-migrating'), seen(True, 'running', True),
                 [('finish_live_migration', {})], id='dest-finishes-handed-record'),
    pytest.param(ON_DEST, D, record(S), live('pre-migrating'), seen(True, 'running', True),
                 [('finish_live_migration', {})], id='dest-finishes-record-sent-ahead-naming-source'),
    pytest.param(ON_DEST, D, record(D, task=None), live('post-migrating'), seen(True, 'shutdown', True),
                 [('finish_live_migration', {})], id='dest-open-copy-finishes-even-with-task-cleared'),
    pytest.param(ON_DEST, D, None, live('post-migrating'), seen(True, 'running', True),
                 [('note', {})], id='dest-without-record-only-notes'),
    pytest.param(ON_DEST, D, record(D), live('post-migrating'), seen(), [('note', {})],
                 id='dest-without-domain-only-notes'),
    pytest.param(COMPLETED, D, record(D, task=None), live('completed'), seen(True, 'running', True), [],
                 id='dest-already-finished'),
    pytest.param(COMPLETED, D, record(D, task=None, migration_id='older'), None, seen(True, 'running'), [],
                 id='dest-record-of-another-move'),
    # -- finish: the source's record follows, its copy goes
    pytest.param(ON_DEST, S, record(S), live('post-migrating'), seen(instance_dir=True, probe=True),
                 [('cleanup_live_source', {})], id='source-record-still-names-it'),
    pytest.param(ON_DEST, S, record(D, task=None), live('post-migrating'), seen(), [('cleanup_live_source', {})],
                 id='source-open-copy-block'),
    pytest.param(ON_DEST, S, record(D, task=None), live('post-migrating', shared=True), seen(), [],
                 id='source-open-copy-shared-left-to-the-dest-finish'),
    pytest.param(ON_DEST, S, record(D, task=None), live('post-migrating', shared=True), seen(probe=True),
                 [('cleanup_live_source', {})], id='source-probe-left-shared'),
    pytest.param(COMPLETED, S, record(D, task=None), live('completed'), seen(instance_dir=True),
                 [('cleanup_live_source', {})], id='source-block-copy-dir-left'),
    pytest.param(COMPLETED, S, record(D, task=None), live('completed', shared=True), seen(instance_dir=True), [],
                 id='source-shared-dir-is-the-dests-now'),
    pytest.param(COMPLETED, S, None, live('completed'), seen(), [], id='source-nothing-left'),
    # -- rollback: the destination's half
    pytest.param(ON_SOURCE, D, None, live('pre-migrating'), seen(), [DEST_ROLLBACK], id='dest-open-copy'),
    pytest.param(ON_SOURCE, D, None, live('error'), seen(instance_dir=True), [DEST_ROLLBACK],
                 id='dest-block-copy-dir-left'),
    pytest.param(ON_SOURCE, D, None, live('error', shared=True), seen(instance_dir=True), [],
                 id='dest-shared-dir-is-the-sources'),
    pytest.param(ON_SOURCE, D, None, live('error', shared=None), seen(instance_dir=True), [],
                 id='dest-undecided-dir-may-be-the-sources'),
    pytest.param(ON_SOURCE, D, None, None, seen(instance_dir=True), [],
                 id='dest-no-copy-dir-is-not-this-moves'),
    pytest.param(ON_SOURCE, D, None, live('error'), seen(probe=True), [DEST_ROLLBACK], id='dest-probe-left'),
    pytest.param(ON_SOURCE, D, None, live('error'), seen(True, 'shutdown'), [DEST_ROLLBACK],
                 id='dest-domain-left-defined'),
    pytest.param(ON_SOURCE, D, None, live('error'), seen(), [], id='dest-nothing-left'),
    pytest.param(ON_SOURCE_ABORTED, D, None, live('pre-migrating'), seen(),
                 [('rollback_live_migration', {'side': 'dest', 'final_status': 'cancelled'})],
                 id='dest-after-abort-closes-cancelled'),
    # -- rollback: the source's half
    pytest.param(ON_SOURCE, S, record(S), live('migrating'), seen(True, 'running', True, probe=True),
                 [SOURCE_ROLLBACK], id='source-task-left'),
    pytest.param(ON_SOURCE, S, record(D, task=None), live('error'), seen(True, 'running', True),
                 [SOURCE_ROLLBACK], id='source-record-names-dest'),
    pytest.param(ON_SOURCE, S, record(S, task=None), live('migrating'), seen(True, 'running', True),
                 [SOURCE_ROLLBACK], id='source-open-copy'),
    pytest.param(ON_SOURCE, S, record(S, task=None), live('error'), seen(True, 'running', True, probe=True),
                 [SOURCE_ROLLBACK], id='source-probe-left'),
    pytest.param(ON_SOURCE, S, record(S, task=None), live('error'), seen(True, 'running', True), [],
                 id='source-already-rolled-back'),
    pytest.param(ON_SOURCE, S, record(S, migration_id='other'), live('error'), seen(True, 'running', True), [],
                 id='source-task-of-another-operation'),
    pytest.param(ON_SOURCE_ABORTED, S, record(S, task=None), live('cancelled'), seen(True, 'running', True), [],
                 id='source-aborted-and-rolled-back-by-migrate'),
])
def test_live_actions(outcome, host, rec, mig, observed, expected):
    assert kinds(live_actions(outcome, host, rec, mig, observed)) == expected
    # migration_actions hands every live outcome to live_actions unchanged
    assert kinds(migration_actions(outcome, host, rec, mig, observed)) == expected


def test_a_host_that_takes_no_part_does_nothing():
    for outcome in (ON_DEST, ON_SOURCE):
        assert live_actions(outcome, 'hvX', record('hvX'), live('migrating'), seen(True, 'running', True, True)) == []


def test_an_unknown_live_outcome_only_explains_on_both_hosts():
    unknown = out({S: live('migrating', 'running', True, job=True), D: live('pre-migrating', 'paused', True)})
    for host, rec in ((S, record(S)), (D, record(S))):
        actions = migration_actions(unknown, host, rec, live('migrating'), seen(True, 'running', True, True))
        assert kinds(actions) == [('note', {})] and 'job still runs on hvS' in actions[0].reason


def test_the_reasons_say_which_host_keeps_the_record():
    finish = live_actions(ON_DEST, D, record(D), live('post-migrating'), seen(True, 'running', True))
    cleanup = live_actions(ON_DEST, S, record(S), live('post-migrating'), seen(instance_dir=True))
    assert "the record is this host's" in finish[0].reason
    assert 'names hvD' in cleanup[0].reason
