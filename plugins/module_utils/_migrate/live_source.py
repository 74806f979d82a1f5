# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The source host's half of a live migration (Nova's live_migration
flow, the source's calls):

* ``start``    — the API and check_can_live_migrate_source: active and
  running, not locked, no task; the migration record (pre-migrating) with
  the guest's disks and CPU, the source's probe, task_state migrating.
* ``migrate``  — live_migration + post_live_migration: the files libvirt
  does not move (config drive, console log) and the record sent ahead,
  libvirt's peer-to-peer job (block migration over NBD unless the storage
  is shared) watched by ``live_job``, then post-migrating, the record
  handed over, the source copy removed.
* ``abort``    — live_migration_abort: libvirt's job aborted; the migrate
  run then rolls back.
* ``rollback`` — rollback_live_migration: the guest still runs here; the
  record is this host's again with no task; the migration cancelled or
  in error.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import uuid as uuidlib

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import MigrationError, NovaliteError
from ansible_collections.novalite.compute.plugins.module_utils._common.ownership import check_owner
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import PowerState
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.live_xml import cpu_xml, disk_targets
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.power import power_label
from ansible_collections.novalite.compute.plugins.module_utils._migrate import live_policy as lp
from ansible_collections.novalite.compute.plugins.module_utils._migrate.live_move import LiveMove
from ansible_collections.novalite.compute.plugins.module_utils._migrate.probe import read_probe, remove_probe, write_probe
from ansible_collections.novalite.compute.plugins.module_utils._migrate.transfer import allocated_bytes
from ansible_collections.novalite.compute.plugins.module_utils._module.hypervisor import OnHypervisor
from ansible_collections.novalite.compute.plugins.module_utils._store.operation import Operation


class LiveSource(OnHypervisor):
    """The source side of live migrations on the hypervisor ``hv``."""

    @staticmethod
    def migration_ref(migration):
        return {'id': migration['id'], 'status': migration['status'], 'migration_type': lp.LIVE}

    def track(self, record, migration, status=None):
        if status:
            self.migrations.save(migration, status)
            if status in ms.TERMINAL:
                self.migrations.clear_abort(migration['id'])
        record.migration = self.migration_ref(migration)

    def guest_of(self, record):
        guest = self.host.guest_by_uuid(record.uuid)
        if guest is None:
            raise MigrationError('the instance has no domain on %s' % self.this_host, instance=record.label,
                                 step='check state')
        return guest

    # -- start ----------------------------------------------------------------------
    def start(self, record, dest_host, dest, options, flavor=None, check_mode=False):
        """Returns (changed, migration, plan)."""
        existing = self._in_flight(record)
        if existing is not None:
            return self._resume_start(record, existing, dest_host, check_mode)
        guest = self.guest_of(record)
        lp.check_can_live_migrate(record, self.this_host, guest.power_state().label, flavor)
        xml = guest.migratable_xml()
        disks = self._disks(guest, xml)
        migration = dict(lp.plan_live_move(record, self.this_host, dest_host, disks),
                         # in check mode too: prep's check mode runs the destination's refusals on it
                         id=str(uuidlib.uuid4()), instance_uuid=record.uuid,
                         instance_name=record.name, status=ms.PRE_MIGRATING, disks=disks, guest_cpu=cpu_xml(xml),
                         source_instances_path=self.paths.root,
                         dest_instances_path=dest.get('instances_path') or self.paths.root,
                         dest_ssh=dest.get('ssh'), shared_storage=None, virt_type=record.virt_type,
                         networks=record.networks, image=record.image,
                         record_sha256=self._record_sha256(record),
                         live=dict(options, dest_uri=dest.get('uri')))
        if check_mode:
            return True, migration, lp.live_plan(migration)
        op = Operation(self.store, record, states.ACTION_LIVE_MIGRATE)
        op.step('migration record')
        self.paths.ensure_layout()
        self.migrations.save(migration)
        write_probe(self.paths.probe(migration['id']), self.this_host)
        op.event('start', migration=migration['id'], dest=dest_host)
        self._enter_migrating(op, record, migration)
        return True, migration, lp.live_plan(migration)

    def _enter_migrating(self, op, record, migration):
        op.step('migrating')
        self.track(record, migration)
        op.transition(expected=(None, states.MIGRATING), task_state=states.MIGRATING)

    def _in_flight(self, record):
        current = (record.migration or {}).get('id')
        migration = self.migrations.load(current) if current else None
        return migration if migration is not None and migration['status'] not in ms.TERMINAL else None

    def _resume_start(self, record, existing, dest_host, check_mode):
        if not lp.is_live(existing) or existing['dest_compute'] != dest_host \
                or existing['status'] != ms.PRE_MIGRATING:
            raise MigrationError('migration %s to %s is %s; finish or roll it back first'
                                 % (existing['id'], existing['dest_compute'], existing['status']),
                                 instance=record.label, step='start')
        plan = lp.live_plan(existing)
        if record.task_state == states.MIGRATING:
            return False, existing, plan
        if not check_mode:
            self._enter_migrating(Operation(self.store, record, states.ACTION_LIVE_MIGRATE), record, existing)
        return True, existing, plan

    def _record_sha256(self, record):
        """The record file's digest: a destination that reads the same bytes
        shares the instances_path (prep's check mode, before any probe)."""
        with open(self.paths.record(record.uuid), 'rb') as handle:
            return hashlib.sha256(handle.read()).hexdigest()

    def _disks(self, guest, xml):
        disks = []
        for disk in disk_targets(xml):
            capacity, _allocation = guest.block_size(disk['path'])
            disks.append({'name': os.path.basename(disk['path']), 'dev': disk['dev'], 'readonly': disk['readonly'],
                          'format': disk['format'], 'virtual_size': capacity,
                          'allocated_bytes': allocated_bytes(disk['path'])})
        return disks

    # -- migrate --------------------------------------------------------------------
    def check_migrate(self, record, migration, prepared):
        """What migrate refuses before it starts (its check mode too):
        another host's instance, a move not pre-migrating, a storage
        decision prep did not make or the probe contradicts. Returns
        whether the storage is shared."""
        check_owner(record, self.this_host)
        lp.check_live_status(migration, 'migrate', instance=record.label)
        return lp.decided_storage(migration, prepared, read_probe(self.paths.probe(migration['id'])),
                                  instance=record.label)

    def migrate(self, record, migration, prepared):
        """Nova's live_migration then post_live_migration. ``prepared``: the
        migration step=prep returned. Returns what moved."""
        move = LiveMove(self, record, migration, self.check_migrate(record, migration, prepared))
        with move.op.running(on_error=move.failed):
            move.enter()
            move.send_files()
            result = move.run_job()
            move.post_migrating()
            move.hand_over()
            move.remove_source_copy()
            move.handed_over()
        return result

    # -- abort ----------------------------------------------------------------------
    def abort(self, record, migration):
        """Abort libvirt's job; the migrate run (or the recovery, when it
        died) rolls back. Returns True when a job was aborted."""
        lp.check_live_status(migration, 'abort', instance=record.label)
        guest = self.host.guest_by_uuid(record.uuid)
        op = Operation(self.store, record, states.EVENT_LIVE_MIGRATION_ABORT)
        op.step('abort')
        if guest is None or not guest.job_running():
            op.event('abort', aborted=False)
            return False
        # said before the job is aborted: the migrate run, whose libvirt call
        # then fails (often with only a broken connection), reads it back
        self.migrations.request_abort(migration['id'])
        guest.abort_job()
        op.event('abort', aborted=True)
        return True

    # -- rollback -------------------------------------------------------------------
    def rollback(self, record, migration, final_status=ms.ERROR, require_guest=True):
        """The source's half of a rollback: the guest must still be here
        (``require_guest``; the recovery also rolls back a move whose guest
        runs nowhere: the source keeps its disks). Returns True when
        something changed."""
        guest = self.host.guest_by_uuid(record.uuid)
        probe = self.paths.probe(migration['id'])
        settled = migration['status'] in ms.TERMINAL and record.task_state is None \
            and record.host == self.this_host and not os.path.exists(probe)
        if settled:
            return False
        if guest is not None and guest.job_running():
            raise MigrationError("libvirt's migration job still runs on %s: abort it (step=abort) or wait for it "
                                 'to end before rolling back' % self.this_host, instance=record.label, step='rollback')
        if require_guest and (guest is None or guest.power_state() == PowerState.NOSTATE):
            raise MigrationError('the guest is not on %s any more: the live migration may have completed; run '
                                 'the reconcile playbook, which asks both hosts' % self.this_host,
                                 instance=record.label, step='rollback')
        if migration['status'] not in ms.TERMINAL:
            lp.check_live_status(migration, 'revert', instance=record.label)
        op = Operation(self.store, record, states.EVENT_ROLLBACK_LIVE_MIGRATION)
        with op.running():
            op.step('rolling back')
            if migration['status'] not in ms.TERMINAL:
                self.track(record, migration, final_status)
            remove_probe(probe)
            op.step('rolled back')
            self.track(record, migration)
            op.transition(host=self.this_host, vm_state=states.ACTIVE, task_state=None,
                          power_state=power_label(guest))
        return True

    def remove_copy(self, record, migration):
        """After the guest left: the source's instance directory (unless the
        storage is shared) and any definition left here."""
        guest = self.host.any_guest_by_uuid(record.uuid)
        if guest is not None and guest.power_state() in (PowerState.SHUTDOWN, PowerState.NOSTATE,
                                                         PowerState.CRASHED):
            try:
                guest.undefine()
            except NovaliteError:
                pass
        if migration.get('shared_storage') is False:     # never while undecided: it may be shared
            directory = self.paths.instance_dir(record.uuid)
            if os.path.isdir(directory):
                shutil.rmtree(directory)
        remove_probe(self.paths.probe(migration['id']), self.this_host)
