# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Reconciler: read every record, migration record and
libvirt domain of this host in one pass, plan with the pure tables
(``policy`` for one instance, ``fleet_policy`` for moves, judged from
every host's report when the reconcile playbook passes them), then carry the
plan out instance by instance, each under its lock and planned again from
what is there at that moment. A failing instance is reported and the others
go on. Files that interrupted writes left behind are removed last.

Here: the plan and the execution loop; how each kind of action is done is
``actions`` (``ReconcileActions``, the Reconciler's base class).
"""

from __future__ import annotations

import os
from contextlib import ExitStack

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import (
    DomainNotFound,
    LockTimeout,
    NovaliteError,
)
from ansible_collections.novalite.compute.plugins.module_utils._common.failpoints import name_of, reached
from ansible_collections.novalite.compute.plugins.module_utils._common.steps import check_step
from ansible_collections.novalite.compute.plugins.module_utils._instance.lifecycle import Lifecycle
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.host import unmanaged_reason
from ansible_collections.novalite.compute.plugins.module_utils._migrate.dest import MigrationDest
from ansible_collections.novalite.compute.plugins.module_utils._migrate.live_dest import LiveDest
from ansible_collections.novalite.compute.plugins.module_utils._migrate.live_source import LiveSource
from ansible_collections.novalite.compute.plugins.module_utils._migrate.source import MigrationSource
from ansible_collections.novalite.compute.plugins.module_utils._module.runner import under_locks
from ansible_collections.novalite.compute.plugins.module_utils._reboot.reboot import Rebooter
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.actions import ReconcileActions
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.fleet_policy import (
    fleet_view,
    recovered_as_usual,
    migration_actions,
    migration_summary,
    record_summary,
)
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.live_fleet_policy import domain_report, is_live
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.policy import Action, changes, only_records, recover, sync
from ansible_collections.novalite.compute.plugins.module_utils._store import leftovers
from ansible_collections.novalite.compute.plugins.module_utils._store.operation import collection_error

MODES = ('recover', 'sync', 'both')


class Reconciler(ReconcileActions):
    """Recovery and sync on the hypervisor ``hv`` (a ``_module.hypervisor.Hypervisor``),
    through the flows' engines built on the same context."""

    def __init__(self, hv, resume=False, shutdown_timeout=60, wait_timeout=120):
        super().__init__(hv)
        self.resume = resume
        self.shutdown_timeout = shutdown_timeout
        self.wait_timeout = wait_timeout
        self.lifecycle = Lifecycle(hv)
        self.rebooter = Rebooter(hv)
        self.source = MigrationSource(hv)
        self.dest = MigrationDest(hv)
        self.live_source = LiveSource(hv)
        self.live_dest = LiveDest(hv)
        self.outcomes = {}

    # -- looking -----------------------------------------------------------------------
    def _observation(self, uuid, guest, outcome=None):
        power = foreign = None
        if guest is not None:
            try:
                power = guest.power_state().label
                foreign = unmanaged_reason(guest, self.this_host)
            except DomainNotFound:      # undefined between the listing and now
                guest = None
        return {'defined': guest is not None,
                'foreign': foreign,
                'power_state': power,
                'instance_dir': os.path.isdir(self.paths.instance_dir(uuid)),
                'resize_dir': os.path.isdir(self.paths.resize_dir(uuid)),
                'probe': outcome is not None and os.path.exists(self.paths.probe(outcome.id)),
                'leftovers': leftovers.instance_leftovers(self.paths, uuid)}

    def _actions(self, record, observed, owner, mode, outcome=None):
        if observed.get('foreign'):     # a domain that is not ours has this uuid: touch nothing
            return [Action('note', observed['foreign'])]
        if outcome is not None and mode in ('recover', 'both'):
            copy = self.migrations.load(outcome.id)
            actions = migration_actions(outcome, self.this_host, record, copy, observed)
            if record is not None and recovered_as_usual(outcome, self.this_host, record):
                actions = actions + self._usual_actions(record, observed, owner, mode)
        elif record is None:
            actions = []
        else:
            actions = self._usual_actions(record, observed, owner, mode)
        if observed['leftovers'] and mode in ('recover', 'both'):
            actions = actions + [Action('remove_leftovers', 'files of an interrupted write',
                                        files=observed['leftovers'])]
        return actions

    def _usual_actions(self, record, observed, owner, mode):
        """The recovery and power-sync tables for an instance whose moves
        are settled (or leave it to them)."""
        actions = []
        if mode in ('recover', 'both'):
            actions = recover(record, observed, owner, self.this_host, self.resume)
        if mode in ('sync', 'both') and not changes(actions):
            actions = actions + sync(record, observed, owner, self.this_host)
        return actions

    def report(self, records):
        """What this host tells the others (see ``fleet_policy``)."""
        return {'compute_host': self.this_host, 'records': [record_summary(r) for r in records],
                'migrations': [migration_summary(m, self._live_domain(m)) for m in self.migrations.list()]}

    def _live_domain(self, migration):
        """What this host sees of an unfinished live migration's domain."""
        # a copy closed here (error, cancelled) still reports: the other host's
        # may be open, and libvirt's job may outlive the step that closed it
        if not is_live(migration) or migration.get('status') in (ms.COMPLETED,):
            return None
        guest = self.host.any_guest_by_uuid(migration['instance_uuid'])
        try:
            if guest is None:
                return domain_report(None, False, False)
            return domain_report(guest.power_state().label, guest.is_persistent(), guest.job_running())
        except DomainNotFound:
            return domain_report(None, False, False)

    def plan(self, mode, records, owners=None, only=None, fleet=None):
        """[{uuid, name, owner, observed, actions, outcome}] for every record
        and every move this host takes part in, plus [{uuid, name}] of our
        domains that have no record (orphans). ``fleet``: the other hosts'
        reports (this host's own is read now)."""
        local = self.report(records)
        reports = [r for r in (fleet or []) if r.get('compute_host') != self.this_host] + [local]
        fleet_owners, outcomes = fleet_view(reports)
        fleet_owners.update(owners or {})
        self.outcomes = outcomes
        self.finished_migrations = set(m['id'] for m in local['migrations'] if m['status'] in ms.TERMINAL) \
            - set(outcomes)
        moves = dict((o.instance_uuid, o) for o in outcomes.values() if self.this_host in (o.source, o.dest))
        guests = dict((g.uuid, g) for g in self.host.list_guests_seen())   # one call: every domain, its state
        entries, known = [], set()
        for record in records:
            known.add(record.uuid)
            if not _wanted(only, record.uuid, record.name):
                continue
            entries.append(self._entry(record.uuid, record.name, record, guests, fleet_owners, mode,
                                       moves.get(record.uuid)))
        for uuid, outcome in sorted(moves.items()):
            name = self._move_name(outcome)
            if uuid not in known and _wanted(only, uuid, name):
                entries.append(self._entry(uuid, name, None, guests, fleet_owners, mode, outcome))
        return entries, self._orphans(guests, known, only)

    def _move_name(self, outcome):
        copy = self.migrations.load(outcome.id) or {}
        return copy.get('instance_name') or outcome.instance_uuid

    def _entry(self, uuid, name, record, guests, owners, mode, outcome):
        owner = owners.get(uuid) or (record.host if record is not None else None) or self.this_host
        observed = self._observation(uuid, guests.get(uuid), outcome)
        return {'uuid': uuid, 'name': name, 'owner': owner, 'observed': observed, 'outcome': outcome,
                'actions': self._actions(record, observed, owner, mode, outcome)}

    def _orphans(self, guests, known, only):
        orphans = []
        for uuid, guest in sorted(guests.items()):
            if uuid in known:
                continue
            try:
                if _wanted(only, uuid, guest.name) and guest.config(inactive=True).instance:
                    orphans.append({'uuid': uuid, 'name': guest.name, 'power_state': guest.power_state().label})
            except DomainNotFound:      # another operation removed it meanwhile
                continue
        return orphans

    def host_leftovers(self):
        return leftovers.host_leftovers(self.paths, self.finished_migrations)

    def remove_host_leftovers(self):
        return leftovers.remove_host_leftovers(self.paths, self.finished_migrations)

    # -- acting ------------------------------------------------------------------------
    def execute(self, entry, mode, batch=None):
        """Plan this instance again under its lock and act (the shared
        runner's locked half). Returns the actions done (dicts).

        With ``batch`` (the store's ``DurableBatch``), an instance whose
        fresh plan only corrects its record is corrected in the batch, and
        its lock is handed to the batch, released when the flush has made
        the record durable. Any other plan flushes the batch first and acts
        with each write durable on its own. A lock another operation holds
        is waited for only once the batch released its own (``_take_lock``)."""
        uuid = entry['uuid']
        outcome = entry.get('outcome')

        def look(_previous, seen=False):
            record = self.store.load(uuid)
            guest = self.host.any_guest_by_uuid(uuid)     # judged by _observation (foreign: no actions)
            if seen and guest is not None:
                guest = guest.seen()
            observed = self._observation(uuid, guest, outcome)
            return record, guest, self._actions(record, observed, entry['owner'], mode, outcome), observed

        if batch is None:
            return under_locks([lambda _look: self.store.lock(uuid, entry['name'])], look,
                               lambda fresh: self._apply(uuid, fresh, outcome))
        with ExitStack() as lock:
            self._take_lock(lock, uuid, entry['name'], batch)
            try:
                fresh = look(None, seen=True)       # nothing of ours changes the domain while we hold the lock
                if only_records(fresh[2], fresh[3]['power_state']):
                    done = self._apply(uuid, fresh, outcome)
                    batch.hold(lock.pop_all())
                    return done
                batch.flush()
                with batch.paused():
                    return self._apply(uuid, look(None), outcome)
            except BaseException:
                batch.flush()       # what this instance staged, before its lock goes
                raise

    def _take_lock(self, stack, uuid, name, batch):
        """Enter the instance lock into ``stack``. While ``batch`` holds
        other instances' locks, only a lock that is free now is taken: for a
        busy one the batch is flushed first (its locks released), then the
        lock is waited for as usual, so operations on the batched instances
        never wait for the one this reconcile waits for."""
        if batch.holding():
            try:
                stack.enter_context(self.store.lock(uuid, name, timeout=0))
                return
            except LockTimeout:
                batch.flush()
        stack.enter_context(self.store.lock(uuid, name))

    def _apply(self, uuid, look, outcome):
        record, guest, actions, observed = look
        only = only_records(actions, observed['power_state'])
        done = []
        for action in actions:
            if action.kind != 'note':
                check_step(states.ACTION_RECONCILE, action.kind)
                if record is not None:
                    self.store.actions(uuid).append(states.ACTION_RECONCILE, action.kind, reason=action.reason)
                reached(name_of(states.ACTION_RECONCILE, action.kind))
                getattr(self, '_do_' + action.kind)(record, guest, action, outcome)
                record = self.store.load(uuid)
                if not only:            # the domain is what it was: nothing touched it
                    guest = self.host.any_guest_by_uuid(uuid)
            done.append(action.to_dict())
        return done


def _wanted(only, uuid, name):
    return not only or uuid in only or name in only


def run_all(reconciler, entries, mode):
    """Execute every entry that has something to do, record corrections
    made durable in batches. Returns (results, errors)."""
    with reconciler.store.batch() as batch:
        return _run_entries(reconciler, entries, mode, batch)


def _run_entries(reconciler, entries, mode, batch):
    results, errors = [], 0
    for entry in entries:
        if not changes(entry['actions']):
            continue
        if batch.full():
            batch.flush()
        try:
            try:
                done = reconciler.execute(entry, mode, batch)
            except NovaliteError:
                raise
            except Exception as exc:            # one instance's bug never stops the others
                raise collection_error(exc, 'reconcile') from exc
            results.append({'uuid': entry['uuid'], 'name': entry['name'], 'done': done})
        except NovaliteError as exc:
            exc.with_context(instance='%s (%s)' % (entry['name'], entry['uuid']))
            errors += 1
            results.append({'uuid': entry['uuid'], 'name': entry['name'], 'error': str(exc),
                            'error_class': type(exc).__name__})
    return results, errors
