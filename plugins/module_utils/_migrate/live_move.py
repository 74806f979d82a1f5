# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One run of the source's live-migration step, phase by phase (Nova's
live_migration, _live_migration_operation, post_live_migration):
migrating (shared storage told by the probe), the files libvirt does not
move sent ahead with the migration and the record, libvirt's job, then
post-migrating, the hand-over, the source copy removed. ``failed`` rolls
back what a failed job leaves: the guest still runs here.
"""

from __future__ import annotations

import os
import time

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import MigrationError, NovaliteError
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import PowerState
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.libvirt_errors import is_aborted
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.live_xml import xml_for_destination
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.power import power_label
from ansible_collections.novalite.compute.plugins.module_utils._migrate import live_policy as lp
from ansible_collections.novalite.compute.plugins.module_utils._migrate.live_job import LiveJob, job_progress
from ansible_collections.novalite.compute.plugins.module_utils._migrate.move_files import handed_record
from ansible_collections.novalite.compute.plugins.module_utils._migrate.transfer import SshTarget, Transfer
from ansible_collections.novalite.compute.plugins.module_utils._store import paths as _paths
from ansible_collections.novalite.compute.plugins.module_utils._store.operation import Operation

SENT_AHEAD = (_paths.DISK_CONFIG, _paths.CONSOLE_LOG)


JOB_END_WAIT_S = 30.0


def migrate_uri(migration):
    """Where the source's QEMU sends memory and disks: the destination's
    migration address (default: the address SSH reaches it at)."""
    address = migration['live'].get('migration_address') or migration['dest_ssh']['host']
    return 'tcp://[%s]' % address if ':' in address else 'tcp://%s' % address


class LiveMove(object):
    def __init__(self, source, record, migration, shared):
        self.decided_shared = shared    # prep's storage decision, checked against the probe (check_migrate)
        self.source = source
        self.paths = source.paths
        self.record = record
        self.migration = migration
        self.op = Operation(source.store, record, states.EVENT_LIVE_MIGRATION)
        self.guest = None
        self.job = None

    @property
    def shared(self):
        return bool(self.migration.get('shared_storage'))

    def enter(self):
        self.op.step('migrating')
        self.migration['shared_storage'] = self.decided_shared
        self.guest = self.source.guest_of(self.record)
        if self.guest.power_state() != PowerState.RUNNING:
            raise MigrationError('the guest is %s: a live migration needs it running'
                                 % self.guest.power_state().label, step='migrating')
        self.source.track(self.record, self.migration, ms.MIGRATING)
        self.op.transition(expected=states.MIGRATING)

    def _transfer(self):
        target = SshTarget(**self.migration['dest_ssh'])
        return Transfer(target.receiver(self.migration['dest_instances_path']), target.label)

    def send_files(self):
        """Block migration: the read-only config drive and the console log
        (libvirt moves neither), then this migration and the record, so the
        destination knows the instance whatever happens next."""
        self.op.step('send files')
        if self.shared:
            return
        uuid = self.record.uuid
        with self._transfer() as transfer:
            for name in SENT_AHEAD:
                path = self.paths.instance_file(uuid, name)
                if os.path.exists(path):
                    transfer.send(path, '%s/%s' % (uuid, name))
            transfer.send_migration(self.migration)
            transfer.send_record(self.record)

    def run_job(self):
        self.op.step('live migration')
        migration, live = self.migration, self.migration['live']
        dest_dir = os.path.join(migration['dest_instances_path'], self.record.uuid)
        xml = xml_for_destination(self.guest.migratable_xml(), self.paths.instance_dir(self.record.uuid), dest_dir,
                                  migration['dest_compute'])
        flags = lp.migration_flags(not self.shared, live)
        disks = None if self.shared else [d['dev'] for d in lp.copied_disks(migration['disks'])]
        moved = lp.bytes_to_move(migration['new_flavor']['memory_mb'], migration['disks'],
                                 lp.SHARED if self.shared else lp.BLOCK)
        self.op.event('live_migration', dest_uri=live['dest_uri'], migrate_uri=migrate_uri(migration), flags=flags,
                      disks=disks, bytes_to_move=moved['total_bytes'])
        storage = lp.SHARED if self.shared else lp.BLOCK
        gib = lp.data_gib(migration['new_flavor']['memory_mb'], migration['disks'], storage)
        self.job = LiveJob(self.guest, live, gib, self.op.progress)
        self.job.run(lambda: self.guest.migrate(live['dest_uri'], flags, xml, migrate_uri(migration), disks,
                                                live['bandwidth_mib']))
        result = {'storage': lp.SHARED if self.shared else lp.BLOCK, 'flags': flags,
                  'seconds': round(self.job.seconds, 3), 'post_copy': self.job.post_copy,
                  'bytes_to_move': moved['total_bytes'], 'last_progress': job_progress(self.job.last)}
        self.op.event('live_migrated', **dict((k, v) for k, v in result.items() if k != 'last_progress'))
        return result

    def post_migrating(self):
        self.op.step('post-migrating')
        self.source.migrations.save(self.migration, ms.POST_MIGRATING)

    def _handed_record(self):
        return handed_record(self.record, self.source.migration_ref(self.migration), self.migration['dest_compute'],
                             states.MIGRATING, PowerState.RUNNING.label)

    def hand_over(self):
        self.op.step('hand over')
        if self.shared:
            return                  # one record: handed_over() is the hand-over
        with self._transfer() as transfer:
            transfer.send_migration(self.migration)
            transfer.send_record(self._handed_record())

    def remove_source_copy(self):
        self.op.step('remove source copy')
        self.source.remove_copy(self.record, self.migration)

    def handed_over(self):
        self.op.step('handed over')
        handed = self._handed_record()
        if self.shared:
            self.op.transition(expected=states.MIGRATING, host=handed.host, task_state=states.MIGRATING,
                               power_state=handed.power_state, migration=handed.migration)
            return
        self.source.migrations.save(self.migration, ms.COMPLETED)
        self.op.transition(expected=states.MIGRATING, host=handed.host, task_state=None,
                           power_state=PowerState.NOSTATE.label,
                           migration=self.source.migration_ref(self.migration))

    def _job_outlives_us(self):
        """Whether libvirt's peer-to-peer job still runs although our call
        returned (a broken client connection): waited for a while first."""
        if self.guest is None:
            return False
        deadline = time.monotonic() + JOB_END_WAIT_S
        try:
            while self.guest.job_running():
                if time.monotonic() > deadline:
                    return True
                time.sleep(0.5)
        except NovaliteError:
            return False
        return False

    def _guest_left(self):
        try:
            guest = self.source.host.guest_by_uuid(self.record.uuid)
            return guest is None or guest.power_state() not in (PowerState.RUNNING, PowerState.PAUSED)
        except NovaliteError:
            return False        # libvirtd itself went away: judged like any failure (recovery looks again)

    def failed(self, exc):
        """Nova's rollback_live_migration on the source: a job that failed
        leaves the guest running here. Once the job succeeded nothing is
        undone: the guest runs on the destination."""
        if self.migration['status'] == ms.POST_MIGRATING:
            exc.message += ('; the guest runs on %s: run the reconcile playbook to finish the hand-over'
                            % self.migration['dest_compute'])
            return
        if self.migration['status'] != ms.MIGRATING:
            self.record.task_state = None
            return
        if self._job_outlives_us():
            exc.message += ("; libvirt's migration job still runs on %s: nothing is rolled back; run the reconcile "
                            'playbook once it ended' % self.source.this_host)
            return
        if self._guest_left():
            exc.message += ('; the guest no longer runs on %s (libvirt may have completed the move): nothing is '
                            'rolled back; run the reconcile playbook, which asks both hosts' % self.source.this_host)
            return
        if self.job is not None and self.job.post_copy:
            # Nova: a post-copy that fails leaves the guest split between the hosts: no rollback
            self.record.vm_state = states.ERROR
            self.record.task_state = None
            exc.message += '; it had switched to post-copy: the guest is in error, nothing is rolled back'
            return
        timed_out = self.job is not None and self.job.timed_out
        asked = self.source.migrations.abort_requested(self.migration['id'])
        if asked:
            self.migration['abort_requested'] = True
            exc.message = 'the live migration was aborted (step=abort); libvirt: %s' % exc.message
        if timed_out:
            exc.message = ('the live migration did not complete within %.0f s (completion_timeout %s s per GiB '
                           'of memory and disks to move) and was aborted; libvirt: %s'
                           % (self.job.deadline, self.migration['live']['completion_timeout'], exc.message))
        final = ms.CANCELLED if timed_out or asked or is_aborted(exc) else ms.ERROR
        try:
            guest = self.source.host.guest_by_uuid(self.record.uuid)
        except NovaliteError:           # libvirtd itself went away: the recovery looks again
            guest = None
        self.source.track(self.record, self.migration, final)
        self.record.task_state = None
        self.record.vm_state = states.ACTIVE
        self.record.power_state = power_label(guest)
        exc.message += ('; the guest keeps running on %s; roll the destination back with step=revert there '
                        '(or run the reconcile playbook)' % self.source.this_host)
