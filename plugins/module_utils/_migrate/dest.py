# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The destination host's half of a cold migration or resize (seed 002):

* ``prep``    — Nova's prep_resize: virt type, networks and domain name
  usable here, capacity for the new flavor (memory and disk free, minus
  what other migrations in flight claimed), the claim recorded, the
  shared-storage probe written (Nova's _is_path_shared_with).
* ``finish``  — Nova's finish_resize + finish_migration: resize_finish,
  root overlay pointed at this host's cached base, root/ephemeral grown,
  swap recreated, XML regenerated for the new flavor, domain defined and
  powered on unless it was stopped; vm_state resized, migration finished.
* ``confirm`` — the record part of Nova's _confirm_resize: vm_state active
  (stopped when powered off), old flavor dropped, claim released,
  migration confirmed.
* ``revert``  — Nova's revert_resize: the domain here destroyed, its disks
  removed unless the storage is shared, the record handed back.
"""

from __future__ import annotations

import os
import shutil

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import MigrationError
from ansible_collections.novalite.compute.plugins.module_utils._common.failpoints import name_of, reached
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import PowerState
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.guest_xml import write_guest_xml
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.power import power_label
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.power import wait_running
from ansible_collections.novalite.compute.plugins.module_utils._migrate.policy import (
    check_capacity,
    check_status,
    power_on_after,
    vm_state_after_confirm,
)
from ansible_collections.novalite.compute.plugins.module_utils._module.hypervisor import OnHypervisor
from ansible_collections.novalite.compute.plugins.module_utils._storage import qemu_img as _qemu_img
from ansible_collections.novalite.compute.plugins.module_utils._storage.disks import backing_of, resize_disks
from ansible_collections.novalite.compute.plugins.module_utils._store import paths as _paths
from ansible_collections.novalite.compute.plugins.module_utils._store.operation import Operation


def sync_tree(directory):
    """fsync every file in ``directory``, then the directory itself."""
    for entry in sorted(os.listdir(directory)):
        path = os.path.join(directory, entry)
        if os.path.isfile(path):
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_guest_fits(host, migration):
    """The virt type and the networks (or bridges) of the moving guest are usable on ``host``."""
    host.check_virt_type(migration['virt_type'])
    for nic in migration.get('networks') or []:
        if nic.get('bridge'):
            host.check_bridge(nic['bridge'])
        else:
            host.check_network(nic['network'])


def check_name_free(host, migration, this_host, label, step):
    """No other domain on ``host`` has the moving instance's name."""
    named = host.guest_by_name(migration['instance_name'])
    if named is not None and named.uuid != migration['instance_uuid']:
        raise MigrationError('a domain named %s (uuid %s) already exists on %s'
                             % (migration['instance_name'], named.uuid, this_host), instance=label, step=step)


def free_disk_bytes(paths):
    """Free bytes where instances_path is (or will be)."""
    return _paths.filesystem_space(paths)[1]


def _remove(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.unlink(path)


class MigrationDest(OnHypervisor):
    """The destination side of moves on the hypervisor ``hv`` (a
    ``_module.hypervisor.Hypervisor``); its ``images()`` gives the cache a
    moved root disk is rebased on."""

    def _check_here(self, migration, step):
        if migration['dest_compute'] != self.this_host:
            raise MigrationError('this is host %s; migration %s goes to %s'
                                 % (self.this_host, migration['id'], migration['dest_compute']), step=step)

    # -- prep ----------------------------------------------------------------------
    def prep(self, migration):
        """Returns (changed, claim info)."""
        self._check_here(migration, 'prep')
        label = '%s (%s)' % (migration['instance_name'], migration['instance_uuid'])
        known = self.migrations.load(migration['id'])
        if known is not None and known['status'] != ms.PRE_MIGRATING:
            check_status(known, 'prep', instance=label)
        same_host = migration['source_compute'] == self.this_host
        free = {'memory_mb': self.host.free_memory_mb(), 'disk_bytes': free_disk_bytes(self.paths)}
        if not same_host:
            check_guest_fits(self.host, migration)
            check_name_free(self.host, migration, self.this_host, label, 'prep')
            try:
                check_capacity(migration['claim'], free['memory_mb'], free['disk_bytes'],
                               self.migrations.claimed(self.this_host, exclude=migration['id']), self.this_host)
            except MigrationError as exc:
                raise exc.with_context(instance=label)
        # On a same-host resize the migration record is already here (start
        # wrote it); the probe is still what tells migrate the path is shared.
        changed = False
        self.paths.ensure_layout()
        probe = self.paths.probe(migration['id'])
        if not os.path.exists(probe):
            reached(name_of(states.EVENT_PREP_RESIZE, 'probe'))
            with open(probe, 'w') as handle:
                handle.write(self.this_host + '\n')
            changed = True
        if known is None:
            reached(name_of(states.EVENT_PREP_RESIZE, 'claim'))
            self.migrations.save(dict(migration, status=ms.PRE_MIGRATING))
            changed = True
        return changed, free

    # -- finish --------------------------------------------------------------------
    def finish(self, record, migration, wait_timeout=120):
        self._check_here(migration, 'finish')
        if migration['status'] == ms.FINISHED and record.vm_state == states.RESIZED and record.task_state is None:
            return False
        check_status(migration, 'finish', instance=record.label)
        if record.host != self.this_host:
            raise MigrationError('the record says host %s: the source has not handed the instance over'
                                 % record.host, instance=record.label, step='finish')

        def on_error(_exc):
            # Nova: errors_out_migration + vm_state error; revert recovers it.
            record.vm_state = states.ERROR
            record.task_state = None
            self.migrations.save(migration, ms.ERROR)
            record.migration = dict(record.migration or {}, status=ms.ERROR)

        op = Operation(self.store, record, states.EVENT_FINISH_RESIZE)
        with op.running(on_error=on_error):
            op.step('resize_finish')
            # resize_finish too: a finish cut short is run again from the start
            op.transition(expected=(states.RESIZE_MIGRATED, states.RESIZE_FINISH), task_state=states.RESIZE_FINISH)
            op.step('attach base image')
            self._local_backing(record)
            op.step('resize disks')
            old = dict(record.flavor)
            record.flavor = dict(migration['new_flavor'])
            resize_disks(self.paths, record, old)
            op.step('define domain')
            guest = self.host.define(write_guest_xml(self.paths, record))
            if power_on_after(migration['old_vm_state']):
                op.step('power on')
                if guest.power_state() != PowerState.RUNNING:
                    guest.launch()
                wait_running(guest, wait_timeout)
            op.step('finish')
            _remove(self.paths.probe(migration['id']))
            self.migrations.save(migration, ms.FINISHED)
            record.migration = dict(record.migration or {}, status=ms.FINISHED)
            op.transition(expected=states.RESIZE_FINISH, vm_state=states.RESIZED, task_state=None,
                          power_state=guest.power_state().label)
        return True

    def _local_backing(self, record):
        """The copied overlay names the source's base path: point it at this
        host's cache entry (fetched from the image URL if it is not here)."""
        root = self.paths.instance_file(record.uuid, _paths.DISK_ROOT)
        backing, backing_fmt = backing_of(root)
        if not backing or not record.image:
            return
        # Through the cache even when the entry is here (sent by the source,
        # or fetched earlier): the hit is checked like a spawn's (the URL it
        # came from, the image's checksum against its bytes).
        local = self.hv.images(force_raw=backing_fmt == 'raw').get(record.image).path
        if os.path.realpath(backing) != os.path.realpath(local):
            _qemu_img.rebase_unsafe(root, 'qcow2', local, backing_fmt)

    # -- confirm -------------------------------------------------------------------
    def confirm(self, record, migration):
        self._check_here(migration, 'confirm')
        if migration['status'] == ms.CONFIRMED:
            return False
        check_status(migration, 'confirm', instance=record.label)
        op = Operation(self.store, record, states.EVENT_CONFIRM_RESIZE)
        with op.running():
            op.step('confirming')
            self.migrations.save(migration, ms.CONFIRMING)
            if migration['source_compute'] != self.this_host:
                # The copy was not fsynced on arrival: make it durable before
                # the source may drop its copy.
                op.step('flush disks')
                sync_tree(self.paths.instance_dir(record.uuid))
            op.step('confirmed')
            guest = self.host.guest_by_uuid(record.uuid)
            power = power_label(guest)
            meta = dict(record.system_metadata or {})
            meta.pop('old_vm_state', None)
            self.migrations.save(migration, ms.CONFIRMED)        # releases the claim
            record.migration = dict(record.migration or {}, status=ms.CONFIRMED)
            op.transition(expected=None, vm_state=vm_state_after_confirm(power), task_state=None,
                          old_flavor=None, new_flavor=None, system_metadata=meta, power_state=power)
        return True

    # -- revert ----------------------------------------------------------------------
    def revert(self, record, migration, final_status=ms.REVERTED):
        """Undo this host's part: the domain here destroyed, the copied disks
        removed (unless the storage is shared), the record handed back to
        the source. ``record`` may be None when the copy never completed.
        The migration says reverting before anything is removed, so that a
        revert cut short is finished, never mistaken for a move to finish;
        it ends at ``final_status`` (reverted when asked for; error when
        recovery abandons an interrupted move; either releases the claim).
        Returns True when something changed."""
        self._check_here(migration, 'revert')
        uuid = migration['instance_uuid']
        if migration['source_compute'] == self.this_host:
            return self._revert_same_host(migration)
        holds = record is not None and record.host == self.this_host
        copy = None if migration.get('shared_storage') else self.paths.instance_dir(uuid)
        probe = self.paths.probe(migration['id'])
        left = holds or (copy and os.path.isdir(copy)) or os.path.exists(probe) \
            or self.host.guest_by_uuid(uuid) is not None
        if migration['status'] in (ms.REVERTED, final_status) and not left:
            return False
        if migration['status'] not in (ms.REVERTED, ms.ERROR):
            check_status(migration, 'revert')
        op = Operation(self.store, record, states.EVENT_REVERT_RESIZE) if holds else None
        step = op.step if op is not None else (lambda name: reached(name_of(states.EVENT_REVERT_RESIZE, name)))
        step('reverting')
        self.migrations.save(migration, ms.REVERTING)
        step('destroy domain')
        guest = self.host.guest_by_uuid(uuid)
        if guest is not None:
            guest.destroy()
            guest.undefine()
        step('remove disks')
        if copy:
            _remove(copy)
        _remove(probe)
        if holds:
            with op.running():
                op.step('hand back')
                record.migration = dict(record.migration or {}, status=final_status)
                op.transition(host=migration['source_compute'], task_state=None,
                              power_state=PowerState.NOSTATE.label)
        self.migrations.save(migration, final_status)
        return True

    def _revert_same_host(self, migration):
        """The destination half on the source host itself: only the probe;
        the source half (the same run) restores the instance directory."""
        if migration['status'] == ms.REVERTED:
            return False
        check_status(migration, 'revert')
        reached(name_of(states.EVENT_REVERT_RESIZE, 'reverting'))
        self.migrations.save(migration, ms.REVERTING)
        _remove(self.paths.probe(migration['id']))
        return True
