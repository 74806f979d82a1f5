# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The source host's half of a cold migration or resize (seed 002):

* ``start``   — the API/conductor part: checks, migration record
  (pre-migrating), task_state resize_prep, old_vm_state remembered.
* ``migrate`` — Nova's resize_instance + migrate_disk_and_power_off:
  resize_migrating, clean power off, ``<uuid>`` renamed ``<uuid>_resize``,
  every disk but swap (plus disk.info, and the base image if the destination
  lacks it) copied sparse and verified, the record handed to the destination
  (host = destination, resize_migrated), migration post-migrating.
* ``confirm`` — Nova's confirm_migration/_cleanup_resize: ``_resize``
  removed, the source domain undefined.
* ``revert``  — Nova's finish_revert_resize/finish_revert_migration:
  ``_resize`` moved back, old flavor and host restored, domain redefined,
  powered on unless it was stopped.

The source copy is never deleted before confirm.

Here: ``MigrationSource`` (start, migrate, confirm, revert) and
``restore_source_copy``. The phases of the migrate step are
``source_move``; what a move copies and the plan shown, ``move_files``.
"""

from __future__ import annotations

import os
import shutil
import uuid as uuidlib

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import MigrationError
from ansible_collections.novalite.compute.plugins.module_utils._common.flavor import flavor_values
from ansible_collections.novalite.compute.plugins.module_utils._common.ownership import check_owner
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import PowerState
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.guest_xml import write_guest_xml
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.power import wait_running
from ansible_collections.novalite.compute.plugins.module_utils._migrate.move_files import instance_files, move_plan
from ansible_collections.novalite.compute.plugins.module_utils._migrate.policy import (
    check_status,
    claim_for,
    plan_move,
    power_on_after,
)
from ansible_collections.novalite.compute.plugins.module_utils._migrate.source_move import SourceMove
from ansible_collections.novalite.compute.plugins.module_utils._module.hypervisor import OnHypervisor
from ansible_collections.novalite.compute.plugins.module_utils._store import paths as _paths
from ansible_collections.novalite.compute.plugins.module_utils._store.operation import Operation, error_out


def restore_source_copy(host, paths, record, this_host, old_flavor, power_on, wait_timeout, step=None):
    """Nova's finish_revert_migration on the source: ``<uuid>_resize`` becomes
    the instance directory again (a newer copy there, from a same-host or
    shared-storage move, is dropped), the record gets its old flavor (when
    given) and this host back, the domain is defined from the record and
    started when ``power_on``. Returns the Guest."""
    step = step or (lambda _name: None)
    uuid = record.uuid
    inst, resize = paths.instance_dir(uuid), paths.resize_dir(uuid)
    step('restore instance dir')
    if os.path.isdir(resize):
        guest = host.guest_by_uuid(uuid)
        if guest is not None:
            guest.destroy()
        if os.path.isdir(inst):
            shutil.rmtree(inst)
        os.rename(resize, inst)
    if not os.path.exists(paths.instance_file(uuid, _paths.DISK_ROOT)):
        raise MigrationError('root disk of the source copy is missing: neither %s nor %s holds it' % (inst, resize),
                             instance=record.label, step='restore instance dir')
    if old_flavor:
        record.flavor = dict(old_flavor)
    record.host = this_host
    step('define domain')
    guest = host.define(write_guest_xml(paths, record))
    if power_on and guest.power_state() != PowerState.RUNNING:
        step('power on')
        guest.launch()
        wait_running(guest, wait_timeout)
    return guest


class MigrationSource(OnHypervisor):
    """The source side of moves on the hypervisor ``hv`` (a
    ``_module.hypervisor.Hypervisor``)."""

    def _in_flight(self, record):
        current = (record.migration or {}).get('id')
        migration = self.migrations.load(current) if current else None
        return migration if migration is not None and migration['status'] not in ms.TERMINAL else None

    def _files(self, record, same_host):
        files = instance_files(self.paths, record)
        if same_host:
            for item in files:
                if item['name'].startswith('_base/'):
                    item['copy'] = False        # the cache is already here
        return files

    @staticmethod
    def migration_ref(migration):
        """What a record keeps of its current migration."""
        return {'id': migration['id'], 'status': migration['status'],
                'migration_type': migration['migration_type']}

    def track(self, record, migration, status=None):
        if status:
            self.migrations.save(migration, status)
        record.migration = self.migration_ref(migration)

    # -- start -------------------------------------------------------------------
    def start(self, record, dest_host, new_flavor, dest, check_mode=False):
        """Returns (changed, migration, plan)."""
        existing = self._in_flight(record)
        if existing is not None:
            return self._resume_start(record, existing, dest_host, new_flavor, check_mode)
        move = plan_move(record, self.this_host, dest_host, new_flavor)
        files = self._files(record, move['same_host'])
        migration = dict(move, id=None if check_mode else str(uuidlib.uuid4()),
                         instance_uuid=record.uuid, instance_name=record.name, status=ms.PRE_MIGRATING,
                         claim=claim_for(move['new_flavor'], files),
                         source_instances_path=self.paths.root,
                         dest_instances_path=dest.get('instances_path') or self.paths.root,
                         dest_ssh=dest.get('ssh'), shared_storage=None, files=None,
                         virt_type=record.virt_type, networks=record.networks)
        plan = move_plan(migration, files)
        if check_mode:
            return True, migration, plan
        op = Operation(self.store, record, self._start_action(migration))
        op.step('migration record')
        self.migrations.save(migration)
        op.event('start', migration=migration['id'], dest=dest_host)
        self._enter_resize_prep(op, record, migration)
        return True, migration, plan

    @staticmethod
    def _start_action(migration):
        return states.ACTION_RESIZE if migration['migration_type'] == 'resize' else states.ACTION_MIGRATE

    def _enter_resize_prep(self, op, record, migration):
        op.step('resize_prep')
        meta = dict(record.system_metadata or {}, old_vm_state=migration['old_vm_state'])
        self.track(record, migration)
        op.transition(expected=(None, states.RESIZE_PREP), task_state=states.RESIZE_PREP,
                      old_flavor=migration['old_flavor'], new_flavor=migration['new_flavor'],
                      system_metadata=meta)

    def _resume_start(self, record, existing, dest_host, new_flavor, check_mode):
        """A start run again for the move already started: the same
        migration, its task state put back if it was lost; any other move is
        refused until this one is confirmed or reverted."""
        same = existing['dest_compute'] == dest_host and (
            new_flavor is None or flavor_values(new_flavor) == flavor_values(existing['new_flavor']))
        if not same or existing['status'] != ms.PRE_MIGRATING:
            raise MigrationError('migration %s to %s is %s; confirm or revert it first'
                                 % (existing['id'], existing['dest_compute'], existing['status']),
                                 instance=record.label, step='start')
        plan = move_plan(existing, self._files(record, existing['same_host']))
        if record.task_state == states.RESIZE_PREP:
            return False, existing, plan
        if not check_mode:
            self._enter_resize_prep(Operation(self.store, record, self._start_action(existing)), record, existing)
        return True, existing, plan

    # -- migrate -----------------------------------------------------------------
    def migrate(self, record, migration, shutdown_timeout=60):
        """Nova's resize_instance: power off, set the instance dir aside as
        ``<uuid>_resize``, copy, hand over. Returns what was copied."""
        check_owner(record, self.this_host)
        check_status(migration, 'migrate', instance=record.label)
        move = SourceMove(self, record, migration)
        with move.op.running(on_error=move.failed):
            move.enter()
            result = {'shutdown': move.power_off(shutdown_timeout)}
            move.set_aside()
            result.update(move.copy_and_hand_over())
            move.handed_over()
        return result

    # -- confirm -------------------------------------------------------------------
    def confirm(self, record, migration, reported_status=None):
        """Remove the source copy. Needs the destination to have confirmed
        (``reported_status``) unless this host is also the destination.
        Returns True when something changed."""
        same_host = migration['dest_compute'] == self.this_host
        confirmed = ms.CONFIRMED in (migration['status'], reported_status)
        if not confirmed:
            raise MigrationError('migration %s is not confirmed on the destination %s yet (status %s); '
                                 'confirm it there first' % (migration['id'], migration['dest_compute'],
                                                             reported_status or migration['status']),
                                 instance=record.label, step='confirm')
        changed = False
        resize = self.paths.resize_dir(record.uuid)
        op = Operation(self.store, record, states.EVENT_CONFIRM_RESIZE)
        with op.running():
            op.step('remove source copy')
            if os.path.isdir(resize):
                shutil.rmtree(resize)
                changed = True
            if not same_host:
                op.step('undefine source domain')
                guest = self.host.guest_by_uuid(record.uuid)
                if guest is not None:
                    guest.destroy()
                    guest.undefine()
                    changed = True
            if migration['status'] != ms.CONFIRMED:
                self.track(record, migration, ms.CONFIRMED)
                changed = True
            if not same_host and (record.task_state is not None or changed):
                record.task_state = None
                self.track(record, migration)
                op.transition()
        return changed

    # -- revert --------------------------------------------------------------------
    def revert(self, record, migration, wait_timeout=120, final_status=ms.REVERTED):
        """Bring the instance back here with its old flavor; the migration
        ends at ``final_status`` (reverted when asked for; error when
        recovery abandons an interrupted move). Returns True when something
        changed."""
        resize = self.paths.resize_dir(record.uuid)
        if migration['status'] in (ms.REVERTED, ms.ERROR) and not os.path.isdir(resize) \
                and record.host == self.this_host and record.task_state is None:
            return False
        if migration['status'] not in (ms.REVERTED, ms.ERROR):
            check_status(migration, 'revert', instance=record.label)

        op = Operation(self.store, record, states.EVENT_FINISH_REVERT_RESIZE)
        with op.running(on_error=error_out(record)):
            op.step('reverting')
            if migration['status'] != final_status:
                self.track(record, migration, ms.REVERTING)
            op.transition(task_state=states.RESIZE_REVERTING)
            power_on = power_on_after(migration['old_vm_state'])
            guest = restore_source_copy(self.host, self.paths, record, self.this_host, migration['old_flavor'],
                                        power_on, wait_timeout, step=op.step)
            if not power_on and guest.power_state() != PowerState.SHUTDOWN:
                guest.destroy()
            op.step('reverted')
            _remove_file(self.paths.probe(migration['id']))
            self.track(record, migration, final_status)
            meta = dict(record.system_metadata or {})
            meta.pop('old_vm_state', None)
            op.transition(expected=states.RESIZE_REVERTING, vm_state=migration['old_vm_state'], task_state=None,
                          old_flavor=None, new_flavor=None, system_metadata=meta,
                          power_state=guest.power_state().label)
        return True


def _remove_file(path):
    if os.path.exists(path):
        os.unlink(path)
