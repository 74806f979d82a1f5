# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""state_reconcile's engine: read every record and every libvirt domain of
this host in one pass, plan with the pure tables (_reconcile_policy), then
carry the plan out instance by instance, each under its lock and planned
again from what is there at that moment. A failing instance is reported and
the others go on.
"""

from __future__ import annotations

import os

from ansible_collections.novalite.compute.plugins.module_utils import _states as states
from ansible_collections.novalite.compute.plugins.module_utils._errors import DomainNotFound, NovaliteError
from ansible_collections.novalite.compute.plugins.module_utils._lifecycle import Lifecycle
from ansible_collections.novalite.compute.plugins.module_utils._migrate_source import restore_source_copy
from ansible_collections.novalite.compute.plugins.module_utils._power import OFF_STATES, power_label
from ansible_collections.novalite.compute.plugins.module_utils._reboot import Rebooter
from ansible_collections.novalite.compute.plugins.module_utils._reboot_policy import TASK_STATES
from ansible_collections.novalite.compute.plugins.module_utils._reconcile_policy import changes, recover, sync

MODES = ('recover', 'sync', 'both')


class Reconciler(object):
    def __init__(self, host, paths, store, this_host, resume=False, shutdown_timeout=60, wait_timeout=120,
                 fetch_timeout=60, validate_certs=True):
        self.host = host
        self.paths = paths
        self.store = store
        self.this_host = this_host
        self.resume = resume
        self.shutdown_timeout = shutdown_timeout
        self.wait_timeout = wait_timeout
        self.lifecycle = Lifecycle(host, paths, store)
        self.rebooter = Rebooter(host, paths, store, fetch_timeout=fetch_timeout, validate_certs=validate_certs)

    # -- looking -----------------------------------------------------------------------
    def _observation(self, uuid, guest):
        power = None
        if guest is not None:
            try:
                power = guest.power_state().label
            except DomainNotFound:      # undefined between the listing and now
                guest = None
        return {'defined': guest is not None,
                'power_state': power,
                'instance_dir': os.path.isdir(self.paths.instance_dir(uuid)),
                'resize_dir': os.path.isdir(self.paths.resize_dir(uuid))}

    def _actions(self, record, observed, owner, mode):
        actions = []
        if mode in ('recover', 'both'):
            actions = recover(record, observed, owner, self.this_host, self.resume)
        if mode in ('sync', 'both') and not changes(actions):
            actions = actions + sync(record, observed, owner, self.this_host)
        return actions

    def plan(self, mode, records, owners=None, only=None):
        """[{uuid, name, owner, observed, actions}] for every record, plus
        [{uuid, name}] of our domains that have no record (orphans)."""
        owners = owners or {}
        guests = dict((g.uuid, g) for g in self.host.list_guests())   # one listAllDomains
        entries, known = [], set()
        for record in records:
            known.add(record.uuid)
            if only and record.uuid not in only and record.name not in only:
                continue
            owner = owners.get(record.uuid) or record.host or self.this_host
            observed = self._observation(record.uuid, guests.get(record.uuid))
            entries.append({'uuid': record.uuid, 'name': record.name, 'owner': owner, 'observed': observed,
                            'actions': self._actions(record, observed, owner, mode)})
        orphans = []
        for uuid, guest in sorted(guests.items()):
            if uuid in known:
                continue
            try:
                if (not only or uuid in only or guest.name in only) and guest.config(inactive=True).instance:
                    orphans.append({'uuid': uuid, 'name': guest.name, 'power_state': guest.power_state().label})
            except DomainNotFound:      # another operation removed it meanwhile
                continue
        return entries, orphans

    # -- acting ------------------------------------------------------------------------
    def execute(self, entry, mode):
        """Plan this instance again under its lock and act. Returns the
        actions done (dicts)."""
        uuid = entry['uuid']
        with self.store.lock(uuid, entry['name']):
            record = self.store.load(uuid)
            guest = self.host.guest_by_uuid(uuid)
            actions = self._actions(record, self._observation(uuid, guest), entry['owner'], mode)
            done = []
            log = self.store.actions(uuid)
            for action in actions:
                if action.kind != 'note':
                    log.append(states.ACTION_RECONCILE, action.kind, reason=action.reason)
                    getattr(self, '_do_' + action.kind)(record, guest, action)
                    record = self.store.load(uuid)
                    guest = self.host.guest_by_uuid(uuid)
                done.append(action.to_dict())
            return done

    def _save(self, record, **changes_):
        for field, value in changes_.items():
            setattr(record, field, value)
        self.store.save(record)

    def _do_destroy_domain(self, _record, guest, _action):
        guest.destroy()
        guest.undefine(keep_nvram=True)

    def _do_complete_deletion(self, record, guest, _action):
        self.lifecycle.purge(guest, record.uuid)

    def _do_set_error(self, record, guest, action):
        self._save(record, vm_state=states.ERROR, task_state=None, power_state=power_label(guest),
                   fault={'message': action.reason, 'step': 'reconcile', 'action': 'reconcile'})

    def _do_clear_task_state(self, record, guest, action):
        changes_ = {'task_state': None, 'power_state': power_label(guest)}
        if action.params.get('vm_state'):
            changes_['vm_state'] = action.params['vm_state']
        self._save(record, **changes_)

    def _do_finish_deletion(self, record, guest, _action):
        self.lifecycle.delete(record, guest)

    def _do_reboot(self, record, _guest, action):
        kind = action.params['type']
        self._save(record, task_state=None)
        plan = {'type': kind, 'method': kind, 'reason': action.reason, 'task_states': list(TASK_STATES[kind])}
        self.rebooter.reboot(record, plan, soft_timeout=self.shutdown_timeout, wait_timeout=self.wait_timeout)

    def _do_stop(self, record, _guest, _action):
        self._save(record, task_state=None)
        self.lifecycle.stop(record, shutdown_timeout=self.shutdown_timeout)

    def _do_start(self, record, _guest, _action):
        self._save(record, task_state=None)
        self.lifecycle.start(record, wait_timeout=self.wait_timeout)

    def _do_revert_migration(self, record, _guest, action):
        """Nova's finish_revert_migration after a crash mid-copy: the source
        copy comes back, the domain is defined again from the record (old
        flavor), started unless it was stopped, task state cleared."""
        guest = restore_source_copy(self.host, self.paths, record, self.this_host, record.old_flavor,
                                    action.params['power_on'], self.wait_timeout)
        old_vm_state = (record.system_metadata or {}).get('old_vm_state') or states.ACTIVE
        meta = dict(record.system_metadata or {})
        meta.pop('old_vm_state', None)
        migration = dict(record.migration or {}, status='error') if record.migration else None
        self._save(record, task_state=None, vm_state=old_vm_state, old_flavor=None, new_flavor=None,
                   system_metadata=meta, migration=migration, power_state=power_label(guest))

    def _do_resume(self, record, _guest, _action):
        """Nova's resume_state_on_host_boot: a hard reboot that leaves the
        record's intent (vm_state, task_state) as it is."""
        self.rebooter.restart(record, self.wait_timeout)
        self._save(record, power_state=power_label(self.host.guest_by_uuid(record.uuid)))

    def _do_record_power_state(self, record, _guest, action):
        self._save(record, power_state=action.params['power_state'])

    def _do_sync_stop(self, record, guest, _action):
        if guest is not None and guest.power_state() not in OFF_STATES:
            guest.destroy()
        self._save(record, vm_state=states.STOPPED, task_state=None, power_state=power_label(guest))

    def _do_force_stop(self, record, guest, _action):
        if guest is not None:
            guest.destroy()
        self._save(record, vm_state=states.STOPPED, task_state=None, power_state=power_label(guest))


def run_all(reconciler, entries, mode):
    """Execute every entry that has something to do. Returns (results, errors)."""
    results, errors = [], 0
    for entry in entries:
        if not changes(entry['actions']):
            continue
        try:
            done = reconciler.execute(entry, mode)
            results.append({'uuid': entry['uuid'], 'name': entry['name'], 'done': done})
        except NovaliteError as exc:
            exc.with_context(instance='%s (%s)' % (entry['name'], entry['uuid']))
            errors += 1
            results.append({'uuid': entry['uuid'], 'name': entry['name'], 'error': str(exc),
                            'error_class': type(exc).__name__})
    return results, errors
