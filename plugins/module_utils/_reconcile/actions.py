# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How state_reconcile carries out each kind of ``Action``: one
``_do_<kind>(record, guest, action, outcome)`` per kind of
``_reconcile.policy`` (the kinds are the reconcile steps of
``_common.steps``). ``Reconciler.execute`` calls them, each after its step
is logged and its crash point passed.

``ReconcileActions`` is a part of ``Reconciler`` (its base class): it uses
the attributes the Reconciler sets up - ``host``, ``paths``, ``store``,
``this_host``, ``migrations``, the flows' engines ``lifecycle``,
``rebooter``, ``source`` and ``dest``, and ``shutdown_timeout`` /
``wait_timeout``.
"""

from __future__ import annotations

import os

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import MigrationError
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import OFF_STATES
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.power import power_label
from ansible_collections.novalite.compute.plugins.module_utils._migrate.source import restore_source_copy
from ansible_collections.novalite.compute.plugins.module_utils._module.hypervisor import OnHypervisor
from ansible_collections.novalite.compute.plugins.module_utils._reboot.policy import HARD, TASK_STATES
from ansible_collections.novalite.compute.plugins.module_utils._store import leftovers
from ansible_collections.novalite.compute.plugins.module_utils._store.files import remove_tree


class ReconcileActions(OnHypervisor):
    """The ``_do_<kind>`` methods of the Reconciler, and their helpers."""

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
        if copy is not None and copy['status'] not in ms.TERMINAL:
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

    # -- live migrations (live_fleet_policy) ----------------------------------------------
    def _do_finish_live_migration(self, record, _guest, _action, outcome):
        """The guest is this host's (it runs here, or libvirt had completed):
        Nova's post_live_migration_at_destination, run again."""
        migration = self._migration(outcome)
        if migration['status'] not in (ms.POST_MIGRATING, ms.COMPLETED):
            self.migrations.save(migration, ms.POST_MIGRATING)
        self.live_dest.finish(record, migration, require_running=False)

    def _do_cleanup_live_source(self, record, _guest, _action, outcome):
        """The guest left: this host's record names the destination, the
        source copy is removed, this host's migration record closed."""
        migration = self._migration(outcome)
        self.live_source.remove_copy(record, migration)
        if migration.get('shared_storage'):
            # one record for both hosts: the destination's finish completes it
            self._save(record, host=outcome.dest, migration=self.live_source.migration_ref(migration))
            return
        self.migrations.save(migration, ms.COMPLETED)
        self._save(record, host=outcome.dest, task_state=None, power_state=power_label(None),
                   migration=self.live_source.migration_ref(migration))

    def _do_rollback_live_migration(self, record, _guest, action, outcome):
        """The guest stays (or is) the source's: rollback_live_migration on
        that side, rollback_live_migration_at_destination on this one."""
        final = action.params.get('final_status') or ms.ERROR
        # a stand-in has not been decided shared or not: nothing of it is removed as this host's copy
        migration = self.migrations.load(outcome.id) or dict(self._stand_in(outcome), shared_storage=None)
        if action.params['side'] == 'dest':
            self.live_dest.rollback(record, migration, final_status=final)
        else:
            self.live_source.rollback(record, migration, final_status=final, require_guest=False)

    # -- evacuations (evacuation_fleet_policy) --------------------------------------------
    def _do_clean_evacuated(self, record, guest, action, outcome):
        """The source is back and its instance runs on the destination now
        (Nova's _destroy_evacuated_instances): its stale domain destroyed,
        its local disks removed unless shared, its record naming the
        destination, its copy of the migration completed."""
        if guest is not None:
            guest.destroy()
            guest.undefine(keep_nvram=True)
        copy = self.migrations.load(outcome.id) or self._stand_in_evacuation(outcome)
        if not action.params['shared']:
            remove_tree(self.paths.resize_dir(outcome.instance_uuid))
            remove_tree(self.paths.instance_dir(outcome.instance_uuid))
            if record is not None and record.host == outcome.source:
                self._save(record, host=outcome.dest, task_state=None, power_state=power_label(None),
                           migration={'id': outcome.id, 'status': ms.COMPLETED, 'migration_type': 'evacuation'})
        self.migrations.save(copy, ms.COMPLETED)

    @staticmethod
    def _stand_in_evacuation(outcome):
        """This host's own copy of an evacuation done while it was down."""
        return {'id': outcome.id, 'instance_uuid': outcome.instance_uuid, 'source_compute': outcome.source,
                'dest_compute': outcome.dest, 'migration_type': 'evacuation', 'shared_storage': outcome.shared}

    def _do_complete_evacuation(self, record, _guest, action, outcome):
        copy = self._migration(outcome)
        final = action.params['final_status']
        self.migrations.save(copy, final)
        if record is not None and (record.migration or {}).get('id') == outcome.id:
            self._save(record, migration=dict(record.migration, status=final))

    def _do_rollback_evacuation(self, record, guest, action, outcome):
        """The source came back before the evacuation finished here: what it
        built is removed (never a disk of a shared instances_path), the record
        handed back as it was on the source, the copy closed in error."""
        if guest is not None:
            guest.destroy()
            guest.undefine(keep_nvram=True)
        if not action.params['shared']:
            remove_tree(self.paths.instance_dir(outcome.instance_uuid))
        if record is not None and record.host == outcome.dest:
            meta = dict(record.system_metadata or {})
            old_vm_state = meta.pop('old_vm_state', None) or states.ACTIVE
            meta.pop('evacuated_from', None)
            self._save(record, host=outcome.source, vm_state=old_vm_state, task_state=None,
                       power_state=power_label(None), system_metadata=meta,
                       migration={'id': outcome.id, 'status': ms.ERROR, 'migration_type': 'evacuation'})
        copy = self.migrations.load(outcome.id)
        if copy is not None and copy['status'] not in ms.TERMINAL:
            self.migrations.save(copy, ms.ERROR)

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
        self._reboot(record, HARD, action.reason)

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
