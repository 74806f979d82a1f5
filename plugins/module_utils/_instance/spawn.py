# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Building an instance, the way nova-compute does it
(build_and_run_instance -> spawn -> _create_image -> config drive ->
_get_guest_xml -> _create_domain_and_network -> wait for RUNNING).

Task states, each persisted before its work starts:
scheduling -> networking -> block_device_mapping -> spawning -> None,
vm_state building -> active (or stopped when ``power_on`` is false).
On failure everything this run created is removed (domain, instance
directory; the image cache keeps only complete, verified images), the
record goes to vm_state error with the fault, and the error names the step.
"""

from __future__ import annotations

import os
import random
import shutil

from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import NovaliteError
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import PowerState
from ansible_collections.novalite.compute.plugins.module_utils._common.units import GiB
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.designer import disk_mapping
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.guest_xml import write_guest_xml
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.power import wait_running
from ansible_collections.novalite.compute.plugins.module_utils._module.hypervisor import OnHypervisor
from ansible_collections.novalite.compute.plugins.module_utils._storage import disks as _disks
from ansible_collections.novalite.compute.plugins.module_utils._storage.config_drive import make_drive, metadata_files
from ansible_collections.novalite.compute.plugins.module_utils._store import paths as _paths
from ansible_collections.novalite.compute.plugins.module_utils._store.operation import Operation
from ansible_collections.novalite.compute.plugins.module_utils._store.records import utcnow


def random_mac():
    """A locally administered MAC in Nova's fa:16:3e prefix."""
    return 'fa:16:3e:%02x:%02x:%02x' % tuple(random.randint(0, 255) for _byte in range(3))


class Spawner(OnHypervisor):
    """Builds instances on the hypervisor ``hv`` (a ``_module.hypervisor.Hypervisor``),
    fetching images through its image cache."""

    def __init__(self, hv):
        super().__init__(hv)
        self.images = hv.images()

    def spawn(self, record, power_on=True, admin_password=None, wait_timeout=120):
        op = Operation(self.store, record, states.ACTION_CREATE)
        created = {'dir': None, 'guest': None}
        with op.running(on_error=lambda _exc: self._build_failed(record, created)):
            mapping = self._schedule(op, record)
            base = self._fetch_image(op, record)
            xml = self._write_files(op, record, mapping, base, admin_password, created)
            guest = self._boot(op, xml, power_on, wait_timeout, created)
            op.step('finish')
            op.transition(expected=states.SPAWNING,
                          vm_state=states.ACTIVE if power_on else states.STOPPED,
                          task_state=None,
                          power_state=guest.power_state().label,
                          launched_at=utcnow())
        return record

    def _build_failed(self, record, created):
        """What a failed build leaves: nothing it created, the record in error."""
        self._cleanup(created)
        record.vm_state = states.ERROR
        record.task_state = None
        record.power_state = PowerState.NOSTATE.label

    # -- steps, in order -----------------------------------------------------
    def _schedule(self, op, record):
        """scheduling -> networking -> block_device_mapping -> spawning: the
        disk mapping."""
        op.step('scheduling')
        op.transition(vm_state=states.BUILDING, task_state=states.SCHEDULING, fault=None,
                      power_state=PowerState.NOSTATE.label)
        self.host.check_virt_type(record.virt_type)

        op.step('networking')
        op.transition(expected=states.SCHEDULING, task_state=states.NETWORKING)
        self._allocate_networks(record)

        op.step('block_device_mapping')
        op.transition(expected=states.NETWORKING, task_state=states.BLOCK_DEVICE_MAPPING)
        mapping = disk_mapping(record)

        op.transition(expected=states.BLOCK_DEVICE_MAPPING, task_state=states.SPAWNING)
        return mapping

    def _fetch_image(self, op, record):
        """The base image, through the cache (a miss fetches it)."""
        op.step('fetch image')
        root_bytes = (record.flavor.get('root_gb') or 0) * GiB
        base = self.images.get(record.image, max_size=root_bytes,
                               progress=lambda done, total: op.progress('fetch_progress', bytes_done=done,
                                                                        bytes_total=total))
        op.event('image_cache', result='miss' if base.fetched else 'hit',
                 cache_name=base.name, format=base.format, virtual_size=base.virtual_size)
        return base

    def _write_files(self, op, record, mapping, base, admin_password, created):
        """The instance directory: disks, config drive, guest XML (returned)."""
        op.step('create disks')
        created['dir'] = self._make_instance_dir(record)
        self._create_disks(record, mapping, base)

        if record.config_drive:
            op.step('config drive')
            make_drive(self.paths.instance_file(record.uuid, _paths.DISK_CONFIG),
                       metadata_files(record, admin_password))

        op.step('guest xml')
        return write_guest_xml(self.paths, record)

    def _boot(self, op, xml, power_on, wait_timeout, created):
        """Define the domain and, when ``power_on``, start it and wait for it
        to run. Returns the Guest."""
        op.step('define domain')
        guest = self.host.define(xml)
        created['guest'] = guest
        if power_on:
            op.step('start domain')
            guest.launch()
            op.step('wait for running')
            wait_running(guest, wait_timeout)
        return guest

    # -- helpers -----------------------------------------------------------
    def _allocate_networks(self, record):
        for nic in record.networks:
            if nic.get('bridge'):
                self.host.check_bridge(nic['bridge'])
            else:
                self.host.check_network(nic['network'])
            if not nic.get('mac'):
                nic['mac'] = random_mac()
        self.store.save(record)

    def _make_instance_dir(self, record):
        """Create the instance directory. A leftover of an earlier build that
        never launched holds nothing of value and is replaced."""
        path = self.paths.instance_dir(record.uuid)
        if os.path.isdir(path):
            if record.launched_at is not None:
                raise NovaliteError('instance directory %s already exists' % path)
            shutil.rmtree(path)
        os.makedirs(path, _paths.DIR_MODE)
        os.chmod(path, _paths.DIR_MODE)
        return path

    def _create_disks(self, record, mapping, base):
        formats = {}
        for disk in mapping:
            target = self.paths.instance_file(record.uuid, disk['name'])
            if disk['name'] == _paths.DISK_ROOT:
                formats[target] = _disks.create_root(target, base, record.flavor.get('root_gb'),
                                                     use_cow=record.use_cow_images)
            elif disk['name'] == _paths.DISK_LOCAL:
                formats[target] = _disks.create_ephemeral(target, record.flavor['ephemeral_gb'])
            elif disk['name'] == _paths.DISK_SWAP:
                formats[target] = _disks.create_swap(target, record.flavor['swap_mb'])
        _disks.write_disk_info(self.paths.instance_file(record.uuid, _paths.DISK_INFO), formats)

    def _cleanup(self, created):
        guest = created['guest']
        if guest is not None:
            try:
                guest.destroy()
                guest.undefine()
            except NovaliteError:
                pass
        if created['dir'] and os.path.isdir(created['dir']):
            shutil.rmtree(created['dir'], ignore_errors=True)
