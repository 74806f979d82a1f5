# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""state_reconcile's engine: read every record, migration record and
libvirt domain of this host in one pass, plan with the pure tables
(_reconcile_policy for one instance, _fleet_policy for moves, judged from
every host's report when the reconcile playbook passes them), then carry the
plan out instance by instance, each under its lock and planned again from
what is there at that moment. A failing instance is reported and the others
go on. Files that interrupted writes left behind are removed last.
"""

from __future__ import annotations

import os

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import DomainNotFound, MigrationError, NovaliteError
from ansible_collections.novalite.compute.plugins.module_utils._common.failpoints import name_of, reached
from ansible_collections.novalite.compute.plugins.module_utils._common.steps import check_step
from ansible_collections.novalite.compute.plugins.module_utils._instance.lifecycle import Lifecycle
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.host import unmanaged_reason
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.power import OFF_STATES, power_label
from ansible_collections.novalite.compute.plugins.module_utils._migrate.dest import MigrationDest
from ansible_collections.novalite.compute.plugins.module_utils._migrate.source import MigrationSource, restore_source_copy
from ansible_collections.novalite.compute.plugins.module_utils._reboot.policy import TASK_STATES
from ansible_collections.novalite.compute.plugins.module_utils._reboot.reboot import Rebooter
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.fleet_policy import (
    TERMINAL,
    fleet_view,
    migration_actions,
    migration_summary,
    record_summary,
)
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.policy import Action, changes, recover, sync
from ansible_collections.novalite.compute.plugins.module_utils._store import leftovers
from ansible_collections.novalite.compute.plugins.module_utils._store.migrations import MigrationStore
from ansible_collections.novalite.compute.plugins.module_utils._store.operation import collection_error

MODES = ('recover', 'sync', 'both')


class Reconciler(object):
    def __init__(self, host, paths, store, this_host, resume=False, shutdown_timeout=60, wait_timeout=120,
                 fetch=None):
        self.host = host
        self.paths = paths
        self.store = store
        self.this_host = this_host
        self.resume = resume
        self.shutdown_timeout = shutdown_timeout
        self.wait_timeout = wait_timeout
        self.lifecycle = Lifecycle(host, paths, store)
        self.rebooter = Rebooter(host, paths, store, fetch=fetch)
        self.migrations = MigrationStore(paths)
        self.source = MigrationSource(host, paths, store, self.migrations, this_host)
        self.dest = MigrationDest(host, paths, store, self.migrations, this_host, fetch=fetch)
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
        elif record is None:
            actions = []
        else:
            actions = []
            if mode in ('recover', 'both'):
                actions = recover(record, observed, owner, self.this_host, self.resume)
            if mode in ('sync', 'both') and not changes(actions):
                actions = actions + sync(record, observed, owner, self.this_host)
        if observed['leftovers'] and mode in ('recover', 'both'):
            actions = actions + [Action('remove_leftovers', 'files of an interrupted write',
                                        files=observed['leftovers'])]
        return actions

    def report(self, records):
        """What this host tells the others (see _fleet_policy)."""
        return {'compute_host': self.this_host, 'records': [record_summary(r) for r in records],
                'migrations': [migration_summary(m) for m in self.migrations.list()]}

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
        self.finished_migrations = set(m['id'] for m in local['migrations'] if m['status'] in TERMINAL) \
            - set(outcomes)
        moves = dict((o.instance_uuid, o) for o in outcomes.values() if self.this_host in (o.source, o.dest))
        guests = dict((g.uuid, g) for g in self.host.list_guests())   # one listAllDomains
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
    def execute(self, entry, mode):
        """Plan this instance again under its lock and act. Returns the
        actions done (dicts)."""
        uuid = entry['uuid']
        outcome = entry.get('outcome')
        with self.store.lock(uuid, entry['name']):
            record = self.store.load(uuid)
            guest = self.host.any_guest_by_uuid(uuid)     # judged by _observation (foreign: no actions)
            actions = self._actions(record, self._observation(uuid, guest, outcome), entry['owner'], mode, outcome)
            done = []
            for action in actions:
                if action.kind != 'note':
                    check_step(states.ACTION_RECONCILE, action.kind)
                    if record is not None:
                        self.store.actions(uuid).append(states.ACTION_RECONCILE, action.kind, reason=action.reason)
                    reached(name_of(states.ACTION_RECONCILE, action.kind))
                    getattr(self, '_do_' + action.kind)(record, guest, action, outcome)
                    record = self.store.load(uuid)
                    guest = self.host.any_guest_by_uuid(uuid)
                done.append(action.to_dict())
            return done

    def _save(self, record, **changes_):
        for field, value in changes_.items():
            setattr(record, field, value)
        self.store.save(record)

    def _do_destroy_domain(self, _record, guest, _action, _outcome):
        guest.destroy()
        guest.undefine(keep_nvram=True)

    def _do_complete_deletion(self, record, guest, _action, _outcome):
        self.lifecycle.purge(guest, record.uuid)

    def _do_set_error(self, record, guest, action, _outcome):
        self._save(record, vm_state=states.ERROR, task_state=None, power_state=power_label(guest),
                   fault={'message': action.reason, 'step': 'reconcile', 'action': 'reconcile'})

    def _do_clear_task_state(self, record, guest, action, _outcome):
        changes_ = {'task_state': None, 'power_state': power_label(guest)}
        if action.params.get('vm_state'):
            changes_['vm_state'] = action.params['vm_state']
        self._save(record, **changes_)

    def _do_finish_deletion(self, record, guest, _action, _outcome):
        self.lifecycle.delete(record, guest)

    def _reboot(self, record, kind, reason):
        plan = {'type': kind, 'method': kind, 'reason': reason, 'task_states': list(TASK_STATES[kind])}
        self.rebooter.reboot(record, plan, soft_timeout=self.shutdown_timeout, wait_timeout=self.wait_timeout)

    def _do_reboot(self, record, _guest, action, _outcome):
        self._save(record, task_state=None)
        self._reboot(record, action.params['type'], action.reason)

    def _do_stop(self, record, _guest, _action, _outcome):
        self._save(record, task_state=None)
        self.lifecycle.stop(record, shutdown_timeout=self.shutdown_timeout)

    def _do_start(self, record, _guest, _action, _outcome):
        self._save(record, task_state=None)
        self.lifecycle.start(record, wait_timeout=self.wait_timeout)

    def _do_revert_migration(self, record, _guest, action, outcome):
        """End a move on this host's side by going back to the source:
        the destination's copy, probe and claim removed, or the source's
        copy restored (Nova's finish_revert_migration), or only the source's
        migration record closed when nothing else is left."""
        final = action.params.get('final_status') or ms.ERROR
        copy = self.migrations.load(outcome.id) if outcome is not None else None
        if outcome is None:
            self._restore_without_migration(record, action)
        elif action.params['side'] == 'dest':
            self.dest.revert(record, copy or self._stand_in(outcome), final_status=final)
        elif action.params.get('restore'):
            self.source.revert(record, copy, wait_timeout=self.wait_timeout, final_status=final)
        else:
            self._close_migration(record, copy, outcome, final)

    def _stand_in(self, outcome):
        """The destination's copy of a migration whose prep was cut short
        before it was written: what the other hosts reported of it."""
        return {'id': outcome.id, 'instance_uuid': outcome.instance_uuid, 'instance_name': outcome.instance_uuid,
                'source_compute': outcome.source, 'dest_compute': outcome.dest, 'status': ms.PRE_MIGRATING,
                'shared_storage': False}

    def _close_migration(self, record, copy, outcome, final):
        if copy is not None and copy['status'] not in TERMINAL:
            self.migrations.save(copy, final)
        probe = self.paths.probe(outcome.id)
        if os.path.exists(probe):
            os.unlink(probe)
        if record is not None and (record.migration or {}).get('id') == outcome.id:
            self._save(record, migration=dict(record.migration, status=final))

    def _restore_without_migration(self, record, action):
        """A record in resize_migrating whose migration record is gone: the
        source copy comes back from the record alone."""
        guest = restore_source_copy(self.host, self.paths, record, self.this_host, record.old_flavor,
                                    action.params['power_on'], self.wait_timeout)
        old_vm_state = (record.system_metadata or {}).get('old_vm_state') or states.ACTIVE
        meta = dict(record.system_metadata or {})
        meta.pop('old_vm_state', None)
        migration = dict(record.migration or {}, status=ms.ERROR) if record.migration else None
        self._save(record, task_state=None, vm_state=old_vm_state, old_flavor=None, new_flavor=None,
                   system_metadata=meta, migration=migration, power_state=power_label(guest))

    def _migration(self, outcome):
        copy = self.migrations.load(outcome.id)
        if copy is None:
            raise MigrationError('no migration %s on this host (%s)' % (outcome.id, self.this_host),
                                 step='reconcile')
        return copy

    def _do_finish_migration(self, record, _guest, _action, outcome):
        """Nova's finish_resize, run again from its start: the instance is
        this host's now (resized, awaiting confirm)."""
        if record.task_state != states.RESIZE_MIGRATED:
            self._save(record, task_state=states.RESIZE_MIGRATED)
        self.dest.finish(record, self._migration(outcome), wait_timeout=self.wait_timeout)

    def _do_confirm_migration(self, record, _guest, action, outcome):
        if action.params['side'] == 'dest':
            self.dest.confirm(record, self._migration(outcome))
        else:
            self.source.confirm(record, self._migration(outcome), reported_status=outcome.dest_status)

    def _do_complete_handover(self, record, _guest, _action, outcome):
        """The destination holds the record: this host's copy says so too
        (what the source's migrate step would have saved last)."""
        migration = self._migration(outcome)
        if migration['status'] != ms.POST_MIGRATING:
            self.migrations.save(migration, ms.POST_MIGRATING)
        self._save(record, host=outcome.dest, task_state=states.RESIZE_MIGRATED,
                   power_state=power_label(self.host.guest_by_uuid(record.uuid)),
                   migration=self.source.migration_ref(migration))

    def _do_remove_leftovers(self, _record, _guest, action, _outcome):
        leftovers.remove_files(action.params['files'])

    def _do_finish_resize(self, record, _guest, _action, _outcome):
        """An in-place resize cut short: run it again (growing is idempotent)."""
        new_flavor = dict(record.new_flavor)
        self._save(record, task_state=None)
        self.lifecycle.resize(record, new_flavor)

    def _do_resume(self, record, _guest, action, _outcome):
        """Nova's resume_state_on_host_boot: a hard reboot, with the hard
        reboot's task states, so that one cut short is recovered like any
        reboot (the record ends active, as it was)."""
        self._reboot(record, 'hard', action.reason)

    def _do_record_power_state(self, record, _guest, action, _outcome):
        self._save(record, power_state=action.params['power_state'])

    def _do_sync_stop(self, record, guest, _action, _outcome):
        if guest is not None and guest.power_state() not in OFF_STATES:
            guest.destroy()
        self._save(record, vm_state=states.STOPPED, task_state=None, power_state=power_label(guest))

    def _do_force_stop(self, record, guest, _action, _outcome):
        if guest is not None:
            guest.destroy()
        self._save(record, vm_state=states.STOPPED, task_state=None, power_state=power_label(guest))


def _wanted(only, uuid, name):
    return not only or uuid in only or name in only


def run_all(reconciler, entries, mode):
    """Execute every entry that has something to do. Returns (results, errors)."""
    results, errors = [], 0
    for entry in entries:
        if not changes(entry['actions']):
            continue
        try:
            try:
                done = reconciler.execute(entry, mode)
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
