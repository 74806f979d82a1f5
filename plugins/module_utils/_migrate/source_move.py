# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run of the source's migrate step (Nova's resize_instance +
migrate_disk_and_power_off), phase by phase: migrating, clean power off,
``<uuid>`` set aside as ``<uuid>_resize``, the disks copied and verified,
the migration and then the record handed to the destination. ``SourceMove``
keeps what has been done so far, so that a failure undoes exactly that.
"""

from __future__ import annotations

import os
import shutil
import time

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import NovaliteError
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import PowerState
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.power import clean_power_off, power_label
from ansible_collections.novalite.compute.plugins.module_utils._migrate.move_files import handed_record, instance_files
from ansible_collections.novalite.compute.plugins.module_utils._migrate.policy import power_on_after
from ansible_collections.novalite.compute.plugins.module_utils._migrate.transfer import SshTarget, Transfer, local_receiver
from ansible_collections.novalite.compute.plugins.module_utils._store import paths as _paths
from ansible_collections.novalite.compute.plugins.module_utils._store.operation import Operation


class SourceMove(object):
    """One run of the source's migrate step, phase by phase. What has been
    done so far is read from the migration's status and ``set_aside``, so a
    failure undoes exactly that, and a failure once the hand-over has begun
    (the destination may already hold the record) undoes nothing."""

    def __init__(self, source, record, migration):
        self.source = source
        self.paths = source.paths
        self.record = record
        self.migration = migration
        self.op = Operation(source.store, record, states.EVENT_RESIZE_INSTANCE)
        self.inst = self.paths.instance_dir(record.uuid)
        self.resize = self.paths.resize_dir(record.uuid)
        self.set_aside_done = False

    def enter(self):
        self.op.step('migrating')
        self.source.track(self.record, self.migration, ms.MIGRATING)
        self.op.transition(expected=states.RESIZE_PREP, task_state=states.RESIZE_MIGRATING)
        self.migration['shared_storage'] = os.path.exists(self.paths.probe(self.migration['id']))

    def power_off(self, timeout):
        self.op.step('power off')
        guest = self.source.host.guest_by_uuid(self.record.uuid)
        method = clean_power_off(guest, timeout) if guest is not None else 'not defined'
        self.op.event('power_off', method=method)
        return method

    def set_aside(self):
        self.op.step('rename instance dir')
        if os.path.isdir(self.resize):
            shutil.rmtree(self.resize)         # a leftover of an earlier, reverted attempt
        os.rename(self.inst, self.resize)
        self.set_aside_done = True

    def _receiver(self):
        if self.migration['shared_storage']:
            os.makedirs(self.inst, _paths.DIR_MODE)
            os.chmod(self.inst, _paths.DIR_MODE)
            return local_receiver(self.paths.root), 'this host (shared storage)'
        target = SshTarget(**self.migration['dest_ssh'])
        return target.receiver(self.migration['dest_instances_path']), target.label

    def copy_and_hand_over(self):
        self.op.step('copy disks')
        shared = self.migration['shared_storage']
        files = instance_files(self.paths, self.record, directory=self.resize)
        if shared:
            files = [f for f in files if not f['name'].startswith('_base/')]
        argv, where = self._receiver()
        began = time.monotonic()

        def progress(name, done, total):
            self.op.progress('copy_progress', file=name, bytes_done=done, bytes_total=total)

        with Transfer(argv, where, progress=progress) as transfer:
            sent = [transfer.send(item['path'], item['dest_name'], skip_if_exists=item['skip_if_exists'])
                    for item in files if item['copy']]
            self.op.event('copy', files=len(sent), bytes=transfer.bytes_sent, destination=where,
                          seconds=round(time.monotonic() - began, 3))
            self.migration['files'] = sent
            self._hand_over(transfer)
        return {'files': sent, 'bytes_copied': sum(f['bytes'] for f in sent), 'shared_storage': shared,
                'not_copied': [f['name'] for f in files if not f['copy']]}

    def _handed_record(self):
        return handed_record(self.record, self.source.migration_ref(self.migration), self.migration['dest_compute'],
                             states.RESIZE_MIGRATED, PowerState.SHUTDOWN.label)

    def _hand_over(self, transfer):
        """The destination receives the migration, then the record: once its
        record is current there, the instance is the destination's. The
        source's migration says post-migrating before anything is sent, so
        recovery knows that only the destination can tell whether the
        hand-over completed."""
        self.op.step('hand over')
        self.source.migrations.save(self.migration, ms.POST_MIGRATING)
        if self.migration['shared_storage']:
            return                              # one record, one host: handed_over() is the hand-over
        transfer.send_migration(self.migration)
        self.op.step('send record')
        transfer.send_record(self._handed_record())

    def handed_over(self):
        self.op.step('handed over')
        handed = self._handed_record()
        self.op.transition(expected=states.RESIZE_MIGRATING, host=handed.host, task_state=handed.task_state,
                           power_state=handed.power_state, migration=handed.migration)

    def failed(self, exc):
        """Nova's _cleanup_remote_migration + _error_out_instance_on_exception,
        friendlier: before the hand-over the instance comes back as it was
        on this host; after it began, nothing is undone."""
        if self.migration['status'] == ms.POST_MIGRATING:
            exc.message += ('; the hand-over to %s may have completed: run the reconcile playbook, which asks '
                            'both hosts' % self.migration['dest_compute'])
            return
        if self.set_aside_done and os.path.isdir(self.resize):
            if os.path.isdir(self.inst):
                shutil.rmtree(self.inst)
            os.rename(self.resize, self.inst)
        self.source.track(self.record, self.migration, ms.ERROR)
        self.record.task_state = None
        self.record.vm_state = self.migration['old_vm_state']
        guest = self.source.host.guest_by_uuid(self.record.uuid)
        if guest is not None and power_on_after(self.migration['old_vm_state']) \
                and guest.power_state() != PowerState.RUNNING:
            try:
                guest.launch()
            except NovaliteError:
                pass        # the record says what it is; a hard reboot starts it
        self.record.power_state = power_label(guest)
