# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Put back, from the instance record alone, every file a guest needs to
start - the repair half of Nova's _hard_reboot (_create_images_and_backing
and _get_guest_xml on a stateless compute node).

Never touches guest data: a missing root disk is an error, not something to
rebuild from the image. What can be recreated without loss is: the base
image behind the root overlay (fetched again into the cache, checksum
checked), an empty ephemeral disk, swap, the config drive, ``disk.info``
and ``libvirt.xml``.
"""

from __future__ import annotations

import os

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import NovaliteError
from ansible_collections.novalite.compute.plugins.module_utils._common.units import GiB
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.designer import disk_mapping
from ansible_collections.novalite.compute.plugins.module_utils._storage import disks as _disks
from ansible_collections.novalite.compute.plugins.module_utils._storage.config_drive import make_drive, metadata_files
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_cache import cache_name
from ansible_collections.novalite.compute.plugins.module_utils._store import paths as _paths


class FileRebuilder(object):
    """Recreates missing instance files; ``ensure(record)`` returns the list
    of what it recreated (empty when everything was in place). ``hv``: the
    hypervisor context (``_module.hypervisor.Hypervisor``); its ``images()``
    fetches a missing base image again."""

    def __init__(self, hv):
        self.paths = hv.paths
        self.hv = hv

    def ensure(self, record):
        uuid = record.uuid
        root = self.paths.instance_file(uuid, _paths.DISK_ROOT)
        if not os.path.exists(root):
            raise NovaliteError('root disk %s is missing; it holds the guest data and cannot be rebuilt '
                                'without losing it' % root)
        repaired = []
        if self._ensure_backing(record, root):
            repaired.append('base image')
        formats = {}
        for disk in disk_mapping(record):
            target = self.paths.instance_file(uuid, disk['name'])
            if disk['device'] == 'disk':
                formats[target] = disk['format']
            if os.path.exists(target):
                continue
            if disk['name'] == _paths.DISK_LOCAL:
                _disks.create_ephemeral(target, record.flavor['ephemeral_gb'])
            elif disk['name'] == _paths.DISK_SWAP:
                _disks.create_swap(target, record.flavor['swap_mb'])
            elif disk['name'] == _paths.DISK_CONFIG:
                # The admin password is never stored, so it cannot come back.
                make_drive(target, metadata_files(record, None))
            repaired.append(disk['name'])
        info_path = self.paths.instance_file(uuid, _paths.DISK_INFO)
        if not os.path.exists(info_path):
            repaired.append(_paths.DISK_INFO)
        _disks.write_disk_info(info_path, formats)
        return repaired

    def _ensure_backing(self, record, root):
        backing, backing_format = _disks.backing_of(root)
        if not backing or os.path.exists(backing):
            return False
        if not record.image:
            raise NovaliteError('backing file %s of the root disk is missing and the record names no image'
                                % backing)
        expected = self.paths.base_image(cache_name(record.image))
        if os.path.realpath(backing) != os.path.realpath(expected):
            raise NovaliteError('backing file %s of the root disk is missing and is not the cache entry '
                                '%s of image %s; restore it by hand' % (backing, expected, record.image['url']))
        cache = self.hv.images(force_raw=backing_format == 'raw')
        root_bytes = (record.flavor.get('root_gb') or 0) * GiB or None
        base = cache.get(record.image, max_size=root_bytes)
        if backing_format and base.format != backing_format:
            raise NovaliteError('the image fetched again for %s is %s, but the root disk expects a %s backing file'
                                % (record.image['url'], base.format, backing_format))
        return True
