# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Operations on an existing instance: power on, clean power off, delete,
redefine from the record, metadata update, in-place flavor change.

Each runs as an ``Operation``: task_state set (checked against the expected
previous value) before acting, cleared after, action log start/finish/error.
"""

from __future__ import annotations

import os
import shutil

from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import (
    DomainNotFound,
    NovaliteError,
)
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import PowerState
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.designer import instance_metadata
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.domain_xml import METADATA_NS
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.guest_xml import write_guest_xml
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.power import clean_power_off, power_label, wait_running
from ansible_collections.novalite.compute.plugins.module_utils._module.hypervisor import OnHypervisor
from ansible_collections.novalite.compute.plugins.module_utils._storage.disks import resize_disks
from ansible_collections.novalite.compute.plugins.module_utils._store import paths as _paths
from ansible_collections.novalite.compute.plugins.module_utils._store.operation import Operation, error_out
from ansible_collections.novalite.compute.plugins.module_utils._store.records import utcnow


class Lifecycle(OnHypervisor):
    """Operations on the existing instances of the hypervisor ``hv``
    (a ``_module.hypervisor.Hypervisor``)."""

    def _guest(self, record):
        guest = self.host.guest_by_uuid(record.uuid)
        if guest is None:
            raise DomainNotFound('libvirt has no domain with uuid %s' % record.uuid)
        return guest

    def _restore_task_state(self, record):
        """Nova's reverts_task_state: a failed power operation leaves
        vm_state as it was, clears task_state and records what libvirt sees."""
        def on_error(_exc):
            record.task_state = None
            record.power_state = power_label(self.host.guest_by_uuid(record.uuid))
        return on_error

    def start(self, record, wait_timeout=120):
        op = Operation(self.store, record, states.ACTION_START)
        with op.running(on_error=self._restore_task_state(record)):
            op.step('powering-on')
            op.transition(expected=None, task_state=states.POWERING_ON)
            op.step('power on')
            guest = self._guest(record)
            if guest.power_state() != PowerState.RUNNING:
                guest.launch()
            op.step('wait for running')
            wait_running(guest, wait_timeout)
            op.transition(expected=states.POWERING_ON, vm_state=states.ACTIVE, task_state=None,
                          power_state=PowerState.RUNNING.label)
        return record

    def stop(self, record, shutdown_timeout=60):
        op = Operation(self.store, record, states.ACTION_STOP)
        with op.running(on_error=self._restore_task_state(record)):
            op.step('powering-off')
            op.transition(expected=None, task_state=states.POWERING_OFF)
            op.step('power off')
            method = clean_power_off(self._guest(record), shutdown_timeout)
            op.event('power_off', method=method)
            op.transition(expected=states.POWERING_OFF, vm_state=states.STOPPED, task_state=None,
                          power_state=PowerState.SHUTDOWN.label)
        return method

    def delete(self, record, guest=None):
        """Destroy and undefine the domain, remove the instance directory
        (and a leftover ``_resize`` copy), mark the record deleted.
        Works for a record whose domain is already gone, and for a domain of
        ours whose record is gone (``record`` None)."""
        if record is None:
            self._remove(guest, None)
            return None

        op = Operation(self.store, record, states.ACTION_DELETE)
        with op.running(on_error=error_out(record)):
            op.step('deleting')
            op.transition(task_state=states.DELETING)
            op.step('delete')
            self._remove(guest or self.host.guest_by_uuid(record.uuid), record.uuid)
            op.transition(expected=states.DELETING, vm_state=states.DELETED, task_state=None,
                          power_state=PowerState.NOSTATE.label, deleted_at=utcnow())
        return record

    def purge(self, guest, uuid):
        """Destroy and undefine ``guest`` and remove the instance's files,
        without touching the record (completing a partial deletion)."""
        self._remove(guest, uuid)

    def _remove(self, guest, uuid):
        if guest is not None:
            uuid = uuid or guest.uuid
            guest.destroy()
            guest.undefine()
        for path in (self.paths.instance_dir(uuid), self.paths.resize_dir(uuid)):
            if os.path.isdir(path):
                shutil.rmtree(path)

    def redefine(self, record):
        """Define the domain again from the record (the domain was undefined
        behind our back); the disks must still be there."""
        op = Operation(self.store, record, states.ACTION_REDEFINE)
        with op.running():
            op.step('redefine')
            root = self.paths.instance_file(record.uuid, _paths.DISK_ROOT)
            if not os.path.exists(root):
                raise NovaliteError('root disk %s is missing; the instance cannot be redefined' % root)
            self.host.define(write_guest_xml(self.paths, record))
            op.transition(power_state=PowerState.SHUTDOWN.label)
        return record

    def set_locked(self, record, locked):
        """Nova's lock/unlock: a locked instance refuses changes (reboot,
        stop, start, resize, migrate, delete) until it is unlocked."""
        op = Operation(self.store, record, states.ACTION_LOCK if locked else states.ACTION_UNLOCK)
        with op.running():
            op.step('lock' if locked else 'unlock')
            op.transition(locked=bool(locked))
        return record

    def update_metadata(self, record, metadata):
        op = Operation(self.store, record, states.ACTION_UPDATE)
        with op.running():
            op.step('update metadata')
            record.metadata = dict(metadata)
            write_guest_xml(self.paths, record)
            guest = self._guest(record)
            meta = instance_metadata(record)
            guest.set_metadata(meta.to_xml(), 'nl', METADATA_NS, live=guest.power_state() == PowerState.RUNNING)
            op.transition()
        return record

    def resize(self, record, flavor):
        """Change the flavor of a powered-off instance in place: grow root
        and ephemeral disks, recreate swap, regenerate the guest."""
        op = Operation(self.store, record, states.ACTION_RESIZE_IN_PLACE)
        with op.running(on_error=error_out(record)):
            op.step('resize disks')
            op.transition(expected=None, task_state=states.RESIZE_FINISH,
                          old_flavor=dict(record.flavor), new_flavor=dict(flavor))
            old = record.flavor
            record.flavor = dict(flavor)
            resize_disks(self.paths, record, old)
            op.step('redefine')
            self.host.define(write_guest_xml(self.paths, record))
            op.transition(expected=states.RESIZE_FINISH, task_state=None, old_flavor=None, new_flavor=None)
        return record
