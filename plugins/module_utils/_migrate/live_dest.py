# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The destination host's half of a live migration (Nova's calls on the
destination):

* ``prep``     — check_can_live_migrate_destination + pre_live_migration:
  virt type, networks, domain name, the guest CPU (libvirt's
  compareHypervisorCPU), memory and disk free (minus other claims); the
  claim recorded; shared storage told by the source's probe; for a block
  migration the base image fetched into this host's cache and every disk
  pre-created empty at its size (the root disk an overlay on that base).
* ``finish``   — post_live_migration_at_destination: the guest runs here;
  the record is this host's with no task, libvirt.xml written for this
  host's paths, the migration completed, the claim released.
* ``rollback`` — rollback_live_migration_at_destination: a domain left
  here destroyed, the pre-created disks removed (never on shared storage),
  the migration closed. Refused while the guest runs here. Only this
  host's own copy of the migration says what prep made here.
"""

from __future__ import annotations

import hashlib
import os
import shutil

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import MigrationError
from ansible_collections.novalite.compute.plugins.module_utils._common.failpoints import name_of, reached
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import PowerState
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.guest_xml import write_guest_xml
from ansible_collections.novalite.compute.plugins.module_utils._migrate import live_policy as lp
from ansible_collections.novalite.compute.plugins.module_utils._migrate.dest import (
    check_guest_fits,
    check_name_free,
    free_disk_bytes,
)
from ansible_collections.novalite.compute.plugins.module_utils._migrate.policy import check_capacity
from ansible_collections.novalite.compute.plugins.module_utils._migrate.probe import read_probe, remove_probe, write_probe
from ansible_collections.novalite.compute.plugins.module_utils._module.hypervisor import OnHypervisor
from ansible_collections.novalite.compute.plugins.module_utils._storage import qemu_img as _qemu_img
from ansible_collections.novalite.compute.plugins.module_utils._storage.disks import write_disk_info
from ansible_collections.novalite.compute.plugins.module_utils._store import paths as _paths
from ansible_collections.novalite.compute.plugins.module_utils._store.operation import Operation

# The disks a running guest has are still being written on the source: they
# arrive over NBD into empty files of the same size made here.
RUNNING_HERE = (PowerState.RUNNING, PowerState.PAUSED)


def _label(migration):
    return '%s (%s)' % (migration['instance_name'], migration['instance_uuid'])


class LiveDest(OnHypervisor):
    """The destination side of live migrations on the hypervisor ``hv``."""

    def _check_here(self, migration, step):
        if migration['dest_compute'] != self.this_host:
            raise MigrationError('this is host %s; migration %s goes to %s'
                                 % (self.this_host, migration['id'], migration['dest_compute']), step=step)

    # -- prep ---------------------------------------------------------------------
    def check(self, migration, check_mode=False):
        """check_can_live_migrate_destination: refuse before anything moves.
        In check mode the source wrote no probe: the storage is told by its
        record instead (the same bytes here: the same file)."""
        label = _label(migration)
        try:
            check_guest_fits(self.host, migration)
            self.host.check_guest_cpu(migration.get('guest_cpu'), migration['virt_type'])
        except MigrationError:
            raise
        except Exception as exc:        # a HypervisorError: say it is this move that cannot happen
            raise MigrationError('cannot live-migrate to %s: %s' % (self.this_host, getattr(exc, 'message', exc)),
                                 instance=label, step='check destination')
        check_name_free(self.host, migration, self.this_host, label, 'check destination')
        shared = self.sees_source_probe(migration) or (check_mode and self._sees_source_record(migration))
        free = {'memory_mb': self.host.free_memory_mb(), 'disk_bytes': free_disk_bytes(self.paths)}
        claim = dict(migration['claim'], disk_bytes=0 if shared else migration['claim']['disk_bytes'])
        try:
            check_capacity(claim, free['memory_mb'], free['disk_bytes'],
                           self.migrations.claimed(self.this_host, exclude=migration['id']), self.this_host)
        except MigrationError as exc:
            raise exc.with_context(instance=label)
        return shared, free

    def _sees_source_record(self, migration):
        path = self.paths.record(migration['instance_uuid'])
        if not migration.get('record_sha256') or not os.path.exists(path):
            return False
        with open(path, 'rb') as handle:
            return hashlib.sha256(handle.read()).hexdigest() == migration['record_sha256']

    def sees_source_probe(self, migration):
        """Whether this host sees the probe the source wrote: one shared
        directory. Once prep has decided, its copy of the migration says."""
        known = self.migrations.load(migration['id'])
        if known is not None and known.get('shared_storage') is not None:
            return known['shared_storage']
        return read_probe(self.paths.probe(migration['id'])) == migration['source_compute']

    def prep(self, migration):
        """Returns (changed, free, storage)."""
        self._check_here(migration, 'prep')
        known = self.migrations.load(migration['id'])
        if known is not None and known['status'] != ms.PRE_MIGRATING:
            lp.check_live_status(known, 'prep', instance=_label(migration))
        shared, free = self.check(migration)
        changed = False
        self.paths.ensure_layout()
        if known is None or known.get('shared_storage') is None:
            reached(name_of(states.EVENT_PRE_LIVE_MIGRATION, 'claim'))
            self.migrations.save(dict(migration, status=ms.PRE_MIGRATING, shared_storage=shared))
            changed = True
        probe = self.paths.probe(migration['id'])
        if read_probe(probe) != self.this_host:
            reached(name_of(states.EVENT_PRE_LIVE_MIGRATION, 'probe'))
            write_probe(probe, self.this_host)
            changed = True
        if not shared:
            reached(name_of(states.EVENT_PRE_LIVE_MIGRATION, 'create disks'))
            changed = self._create_disks(migration) or changed
        return changed, free, lp.SHARED if shared else lp.BLOCK

    def _create_disks(self, migration):
        """Every disk empty at its size: the root an overlay on this host's
        cached base (fetched from the image URL when it is not here), the
        others blank files of the source's format. Made again on every
        prep: nothing is in them before libvirt's copy."""
        uuid = migration['instance_uuid']
        directory = self.paths.instance_dir(uuid)
        if not os.path.isdir(directory):
            os.makedirs(directory, _paths.DIR_MODE)
            os.chmod(directory, _paths.DIR_MODE)
        formats = {}
        for disk in lp.copied_disks(migration['disks']):
            path = os.path.join(directory, disk['name'])
            if os.path.exists(path):
                os.unlink(path)
            backing = self._base(migration) if disk['name'] == _paths.DISK_ROOT and migration.get('image') else None
            if disk['format'] == 'qcow2':
                _qemu_img.create(path, 'qcow2', disk['virtual_size'], backing=backing and backing.path,
                                 backing_fmt=backing and backing.format)
            else:
                with open(path, 'wb') as handle:
                    handle.truncate(disk['virtual_size'])
            os.chmod(path, _paths.FILE_MODE)
            formats[path] = disk['format']
        write_disk_info(self.paths.instance_file(uuid, _paths.DISK_INFO), formats)
        return True

    def _base(self, migration):
        """This host's cache entry of the image, checked like a spawn's hit."""
        return self.hv.images().get(migration['image'])

    # -- finish ---------------------------------------------------------------------
    def finish(self, record, migration, require_running=True):
        """post_live_migration_at_destination. ``require_running``: the
        guest must run here (the recovery also finishes a move whose guest
        died here after libvirt completed it: then its definition is here).
        Returns True when something changed."""
        self._check_here(migration, 'finish')
        if migration['status'] == ms.COMPLETED and record.task_state is None and record.host == self.this_host:
            return False
        lp.check_live_status(migration, 'finish', instance=record.label)
        guest = self.host.guest_by_uuid(record.uuid)
        if guest is None or (require_running and guest.power_state() not in RUNNING_HERE):
            raise MigrationError('the guest does not run on %s: the live migration has not completed here'
                                 % self.this_host, instance=record.label, step='finish')
        op = Operation(self.store, record, states.EVENT_POST_LIVE_MIGRATION_DEST)
        with op.running():
            op.step('take over')
            record.host = self.this_host
            write_guest_xml(self.paths, record)
            op.step('completed')
            remove_probe(self.paths.probe(migration['id']))
            self.migrations.save(migration, ms.COMPLETED)          # releases the claim
            record.migration = dict(record.migration or {}, status=ms.COMPLETED)
            op.transition(host=self.this_host, vm_state=states.ACTIVE, task_state=None,
                          power_state=guest.power_state().label)
        return True

    # -- rollback -------------------------------------------------------------------
    def rollback(self, record, migration, final_status=ms.ERROR):
        """rollback_live_migration_at_destination. ``record``: this host's
        copy (sent ahead by the source) or None. Returns True when something
        changed."""
        self._check_here(migration, 'revert')
        kept = self.migrations.load(migration['id'])
        if kept is None:
            # prep saves the claim before it makes anything, and the source
            # sends nothing before prep ran: nothing here is this move's (a
            # passed migration is never trusted to say what to remove)
            return False
        migration = kept
        uuid = migration['instance_uuid']
        guest = self.host.guest_by_uuid(uuid)
        if guest is not None and guest.power_state() in RUNNING_HERE and not guest.job_running():
            raise MigrationError('the guest runs on %s: the live migration completed; finish it here '
                                 '(step=finish) instead of rolling it back' % self.this_host,
                                 instance=_label(migration), step='revert')
        shared = migration.get('shared_storage')
        # only a directory this host's prep made for a block migration: while
        # prep has not decided (None), the directory may be the source's own
        copy = self.paths.instance_dir(uuid) if shared is False else None
        probe = self.paths.probe(migration['id'])
        holds = record is not None and record.task_state is not None and (record.migration or {}).get('id') \
            == migration['id']
        left = holds or (copy and os.path.isdir(copy)) or read_probe(probe) == self.this_host or guest is not None
        if migration['status'] in ms.TERMINAL and not left:
            return False
        if migration['status'] not in ms.TERMINAL:
            lp.check_live_status(migration, 'revert', instance=_label(migration))

        def step(name):
            reached(name_of(states.EVENT_ROLLBACK_LIVE_MIGRATION_DEST, name))

        step('rolling back')
        step('destroy domain')
        if guest is not None:
            # asked first: an incoming domain is transient, and gone once destroyed
            persistent = guest.is_persistent()
            guest.destroy()
            if persistent:
                guest.undefine()
        step('remove disks')
        if copy and os.path.isdir(copy):
            shutil.rmtree(copy)
        remove_probe(probe, self.this_host)
        step('rolled back')
        if holds and shared is False:       # a record sent ahead, never the shared one
            record.task_state = None
            record.migration = dict(record.migration or {}, status=final_status)
            self.store.save(record)
        if migration['status'] not in ms.TERMINAL:
            self.migrations.save(migration, final_status)
        return True
