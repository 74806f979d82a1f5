# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How every unfinished move ends, and who owns each instance, decided from
what the hypervisors report (the reconcile playbook gathers one report per
host and gives all of them to each host). Pure: no libvirt, no Ansible.

A report is ``{'compute_host', 'records': [...], 'migrations': [...]}``
(see ``record_summary`` and ``migration_summary``). Each host keeps its own
copy of a migration record, so a move is judged from every copy:

* a copy says confirming/confirmed -> **confirm**: the destination
  finishes its confirm, then the source removes its copy;
* a copy says reverting/reverted/error -> **revert**;
* otherwise the hand-over decides: once the destination holds the record
  (the source sends it last), the instance is the destination's -> **finish**
  (resized, awaiting confirm, as Nova's VERIFY_RESIZE); before that ->
  **revert** (the source still has everything);
* when the host that could tell did not report -> **unknown**: nothing is
  done about that move, so that no instance ever gets two owners.

A live migration is judged by where its guest runs instead
(``live_fleet_policy``), an evacuation by its destination's copy and record
(``evacuation_fleet_policy``).

``migration_actions`` then says what one host does about one move, from its
own record, its copy of the migration and what it sees on disk and in
libvirt. Two rounds of the playbook complete every case: a source waits for
its destination's confirm (before it removes its copy) and for the record
to be handed back (before it restores the instance).
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common import states as st
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import PowerState
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.evacuation_fleet_policy import (
    EVACUATED,
    KINDS as EVACUATION_KINDS,
    evacuation_actions,
    evacuation_outcome,
    is_evacuation,
)
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.live_fleet_policy import (
    LIVE_FINISH,
    LIVE_ROLLBACK,
    OBSERVED_FIELDS,
    is_live,
    live_actions,
    live_outcome,
)
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.policy import Action

CONFIRM, REVERT, FINISH, UNKNOWN = 'confirm', 'revert', 'finish', 'unknown'
HANDED_OVER_TASK_STATES = (st.RESIZE_MIGRATED, st.RESIZE_FINISH)
BEFORE_HAND_OVER = (ms.PRE_MIGRATING, ms.MIGRATING)

RECORD_FIELDS = ('uuid', 'name', 'host', 'vm_state', 'task_state', 'power_state', 'updated_at')
MIGRATION_FIELDS = ('id', 'instance_uuid', 'instance_name', 'source_compute', 'dest_compute', 'status',
                    'updated_at', 'migration_type', 'shared_storage')


def record_summary(record):
    """What a host reports of one of its records (an InstanceRecord)."""
    summary = record.fields(RECORD_FIELDS)
    summary['migration_id'] = (record.migration or {}).get('id')
    return summary


def migration_summary(migration, observed=None):
    """What a host reports of its copy of a migration; for a live one also
    what it sees of the instance's domain (``live_fleet_policy.domain_report``)."""
    summary = dict((field, migration.get(field)) for field in MIGRATION_FIELDS)
    if observed:
        summary.update((field, observed.get(field)) for field in OBSERVED_FIELDS)
    return summary


class Outcome(object):
    """How one move ends: ``kind`` (confirm, revert, finish, unknown), the
    host that owns the instance afterwards (None when unknown), why, and
    what the destination reported (its copy's status; whether it holds the
    record), which the source's half waits for."""

    def __init__(self, migration, kind, reason, owner=None, final_status=None, dest_status=None,
                 dest_holds=None):
        self.id = migration['id']
        self.instance_uuid = migration['instance_uuid']
        self.source = migration['source_compute']
        self.dest = migration['dest_compute']
        self.kind = kind
        self.reason = reason
        self.owner = owner
        self.final_status = final_status
        self.dest_status = dest_status
        self.dest_holds = dest_holds

    @property
    def same_host(self):
        return self.source == self.dest

    def to_dict(self):
        return {'migration': self.id, 'instance_uuid': self.instance_uuid, 'source': self.source,
                'dest': self.dest, 'outcome': self.kind, 'owner': self.owner, 'reason': self.reason}

    def __repr__(self):
        return 'Outcome(%r, %r)' % (self.id, self.kind)


def holds_record(migration_id, host, record):
    """Whether ``record`` (a summary, on ``host``) makes ``host`` the owner
    through this move."""
    return record is not None and record['host'] == host and record.get('migration_id') == migration_id


def handed_over(migration_id, dest, record):
    """Whether the destination's record shows the hand-over done (on a
    same-host move the record is the source's too, so the task state tells)."""
    return holds_record(migration_id, dest, record) and (
        record['task_state'] in HANDED_OVER_TASK_STATES or record['vm_state'] == st.RESIZED)


def outcome_of(copies, records, reported):
    """How the move ends. ``copies``: {host: migration summary} of one
    migration; ``records``: {host: record summary of its instance};
    ``reported``: the hosts that reported."""
    first = copies[sorted(copies)[0]]
    mid, source, dest = first['id'], first['source_compute'], first['dest_compute']
    statuses = set(copy['status'] for copy in copies.values())
    dest_known = dest in reported
    dest_status = copies[dest]['status'] if dest in copies else None
    dest_holds = holds_record(mid, dest, records.get(dest)) if dest_known and dest != source else None

    def outcome(kind, reason, owner=None, final=None):
        return Outcome(first, kind, reason, owner=owner, final_status=final, dest_status=dest_status,
                       dest_holds=dest_holds)

    if is_live(first):
        return live_outcome(copies, reported, outcome)
    if is_evacuation(first):
        return evacuation_outcome(copies, records, reported, outcome, UNKNOWN)

    if statuses & {ms.CONFIRMING, ms.CONFIRMED}:
        return outcome(CONFIRM, 'the confirm was cut short', owner=dest)
    if statuses & {ms.REVERTING, ms.REVERTED}:
        return outcome(REVERT, 'the revert was cut short', owner=source, final=ms.REVERTED)
    if ms.ERROR in statuses:
        final = ms.REVERTED if dest_holds else ms.ERROR
        return outcome(REVERT, 'a step of the move failed', owner=source, final=final)
    if dest_known and handed_over(mid, dest, records.get(dest)):
        return outcome(FINISH, 'the destination holds the record: the move is finished there', owner=dest)
    source_copy = copies.get(source)
    if dest_known and source in reported:
        return outcome(REVERT, 'the hand-over never completed: rolled back to the source', owner=source,
                       final=ms.ERROR)
    if source_copy is not None and source_copy['status'] in BEFORE_HAND_OVER:
        return outcome(REVERT, 'interrupted before the hand-over: rolled back to the source', owner=source,
                       final=ms.ERROR)
    if holds_record(mid, dest, records.get(source)):
        return outcome(FINISH, 'the source handed the record over', owner=dest)
    missing = ' and '.join(h for h in (source, dest) if h not in reported)
    return outcome(UNKNOWN, 'only %s can tell whether the hand-over completed, and it did not report' % missing)


def fleet_view(reports):
    """({uuid: owner}, {migration id: Outcome}) from every host's report.
    Moves whose copies are all finished (confirmed, reverted, error) are
    left out; an instance with an unfinished move is owned as its outcome
    says, any other by the host named in its newest record."""
    reported = set(report['compute_host'] for report in reports)
    copies, records, newest = {}, {}, {}
    for report in reports:
        host = report['compute_host']
        for migration in report.get('migrations') or []:
            copies.setdefault(migration['id'], {})[host] = migration
        for record in report.get('records') or []:
            records.setdefault(record['uuid'], {})[host] = record
            if record.get('host') and (record['uuid'] not in newest
                                       or (record.get('updated_at') or '') > (newest[record['uuid']]['updated_at']
                                                                              or '')):
                newest[record['uuid']] = record
    owners = dict((uuid, record['host']) for uuid, record in newest.items())
    outcomes = {}
    for mid, by_host in sorted(copies.items(), key=lambda item: _latest(item[1])):
        if all(copy['status'] in ms.TERMINAL for copy in by_host.values()):
            continue
        uuid = by_host[sorted(by_host)[0]]['instance_uuid']
        found = outcome_of(by_host, records.get(uuid, {}), reported)
        outcomes[mid] = found
        if found.owner:
            owners[uuid] = found.owner
    return owners, outcomes


def _latest(by_host):
    return max(copy.get('updated_at') or '' for copy in by_host.values())


# --- one host's part ---------------------------------------------------------------
def migration_actions(outcome, this_host, record, copy, observed):
    """What this host does about the move, in order (destination half first
    when it is both). ``record``: this host's InstanceRecord of the instance
    or None; ``copy``: its migration record or None; ``observed``: {'defined',
    'instance_dir', 'resize_dir', 'probe'}."""
    if outcome.kind == UNKNOWN:
        return [Action('note', outcome.reason)]
    if outcome.kind in (LIVE_FINISH, LIVE_ROLLBACK):
        return live_actions(outcome, this_host, record, copy, observed)
    if outcome.kind in EVACUATION_KINDS:
        return evacuation_actions(outcome, this_host, record, copy, observed)
    actions = []
    if this_host == outcome.dest:
        actions += _dest_half(outcome, record, copy, observed)
    if this_host == outcome.source:
        actions += _source_half(outcome, record, copy, observed)
    return actions


def recovered_as_usual(outcome, this_host, record):
    """Whether this host's instance, besides its part of the move, goes
    through the usual recovery and power sync in the same run: an
    evacuated instance is its destination's and idle while the copies are
    only being completed (its guest may have died meanwhile)."""
    return outcome.kind == EVACUATED and this_host == outcome.dest and record.host == this_host \
        and record.task_state is None


def _open(copy):
    return copy is not None and copy['status'] not in ms.TERMINAL


def _should_run(record):
    return (record.system_metadata or {}).get('old_vm_state') != st.STOPPED


def _refers(outcome, record):
    return record is not None and (record.migration or {}).get('id') == outcome.id


def _dest_half(outcome, record, copy, observed):
    holds = _refers(outcome, record) and record.host == outcome.dest
    if outcome.kind == CONFIRM:
        if copy is not None and copy['status'] == ms.CONFIRMED:
            return []
        if not holds:
            return [Action('note', 'the move was being confirmed but this host, its destination, has no record '
                                   'of the instance: left as it is')]
        return [Action('confirm_migration', '%s: confirmed on the destination' % outcome.reason, side='dest')]
    if outcome.kind == FINISH:
        if holds and record.task_state in HANDED_OVER_TASK_STATES:
            return [Action('finish_migration', '%s (task_state %s)' % (outcome.reason, record.task_state))]
        if holds and record.vm_state == st.RESIZED and _should_run(record) \
                and observed.get('power_state') != PowerState.RUNNING.label:
            return [Action('finish_migration', '%s, but its guest is %s: finished again, which starts it'
                           % (outcome.reason, observed.get('power_state') or 'not defined'))]
        return []
    if outcome.same_host:
        return []           # the source half restores the instance directory
    if holds or _open(copy) or observed.get('instance_dir') or observed.get('probe') or observed.get('defined'):
        return [Action('revert_migration', '%s: the destination\'s copy, probe and claim are removed'
                       % outcome.reason, side='dest', final_status=outcome.final_status)]
    return []


def _source_half(outcome, record, copy, observed):
    refers = _refers(outcome, record)
    if outcome.kind == CONFIRM:
        left = observed.get('resize_dir') or _open(copy) or (refers and record.task_state is not None) \
            or (not outcome.same_host and observed.get('defined'))
        if not left:
            return []
        if outcome.same_host or outcome.dest_status == ms.CONFIRMED:
            return [Action('confirm_migration', '%s: the source copy is removed' % outcome.reason, side='source')]
        return [Action('note', 'the source copy is kept until %s has confirmed (the next round removes it)'
                       % outcome.dest)]
    if outcome.kind == FINISH:
        if not outcome.same_host and refers and record.host == outcome.source:
            return [Action('complete_handover', '%s: this host\'s record now names %s'
                           % (outcome.reason, outcome.dest))]
        return []
    if record is None:
        if _open(copy):
            return [Action('revert_migration', '%s: the migration record is closed (no instance record here)'
                           % outcome.reason, side='source', final_status=outcome.final_status, restore=False)]
        return []
    if record.host not in (outcome.source, outcome.dest):
        return []
    if record.host == outcome.dest and not outcome.same_host:
        if outcome.dest_holds is False:
            return [Action('revert_migration', '%s: the instance is restored here' % outcome.reason,
                           side='source', final_status=outcome.final_status, restore=True)]
        return [Action('note', 'waiting for %s to hand the instance back (the next round restores it here)'
                       % outcome.dest)]
    moving = refers and (record.task_state in st.RESIZE_STATES or observed.get('resize_dir')
                         or record.vm_state == st.RESIZED)
    if moving:
        return [Action('revert_migration', '%s: the instance is restored here' % outcome.reason, side='source',
                       final_status=outcome.final_status, restore=True)]
    if _open(copy) or observed.get('probe'):
        return [Action('revert_migration', '%s: the migration record is closed' % outcome.reason, side='source',
                       final_status=outcome.final_status, restore=False)]
    return []
