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

from ansible_collections.novalite.compute.plugins.module_utils import _disks
from ansible_collections.novalite.compute.plugins.module_utils import _paths
from ansible_collections.novalite.compute.plugins.module_utils import _qemu_img
from ansible_collections.novalite.compute.plugins.module_utils._config_drive import make_drive, metadata_files
from ansible_collections.novalite.compute.plugins.module_utils._designer import disk_mapping
from ansible_collections.novalite.compute.plugins.module_utils._errors import CommandError, NovaliteError
from ansible_collections.novalite.compute.plugins.module_utils._image_cache import ImageCache, cache_name

GiB = 1024 ** 3


def backing_of(disk_path):
    """(backing file path, backing format) of a qcow2 disk, or (None, None).
    qemu-img info does not open the backing file, so this works when it is
    missing."""
    try:
        info = _qemu_img.info(disk_path, 'qcow2')
    except CommandError as exc:
        raise NovaliteError('root disk %s cannot be read: %s' % (disk_path, exc.message))
    backing = info.get('full-backing-filename') or info.get('backing-filename')
    if backing and not os.path.isabs(backing):
        backing = os.path.join(os.path.dirname(disk_path), backing)
    return backing, info.get('backing-filename-format')


def resize_disks(paths, record, old_flavor):
    """Make the disks match ``record.flavor`` (Nova's finish_migration disk
    part): grow root and ephemeral (never shrink; the policy refused that
    already), recreate swap at its new size, rewrite disk.info."""
    uuid = record.uuid
    flavor = record.flavor
    if flavor.get('root_gb') and flavor['root_gb'] != (old_flavor or {}).get('root_gb'):
        _disks.grow_root(paths.instance_file(uuid, _paths.DISK_ROOT), flavor['root_gb'])
    local = paths.instance_file(uuid, _paths.DISK_LOCAL)
    if flavor.get('ephemeral_gb') and os.path.exists(local):
        _disks.grow_ephemeral(local, flavor['ephemeral_gb'])
    elif flavor.get('ephemeral_gb'):
        _disks.create_ephemeral(local, flavor['ephemeral_gb'])
    swap = paths.instance_file(uuid, _paths.DISK_SWAP)
    if os.path.exists(swap):
        os.unlink(swap)
    if flavor.get('swap_mb'):
        _disks.create_swap(swap, flavor['swap_mb'])
    _disks.write_disk_info(paths.instance_file(uuid, _paths.DISK_INFO), dict(
        (paths.instance_file(uuid, d['name']), d['format'])
        for d in disk_mapping(record) if d['device'] == 'disk'))


class FileRebuilder(object):
    """Recreates missing instance files; ``ensure(record)`` returns the list
    of what it recreated (empty when everything was in place)."""

    def __init__(self, paths, fetch=None):
        self.paths = paths
        self.fetch = fetch or {}

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
        backing, backing_format = backing_of(root)
        if not backing or os.path.exists(backing):
            return False
        if not record.image:
            raise NovaliteError('backing file %s of the root disk is missing and the record names no image'
                                % backing)
        expected = self.paths.base_image(cache_name(record.image))
        if os.path.realpath(backing) != os.path.realpath(expected):
            raise NovaliteError('backing file %s of the root disk is missing and is not the cache entry '
                                '%s of image %s; restore it by hand' % (backing, expected, record.image['url']))
        cache = ImageCache(self.paths, force_raw=backing_format == 'raw', **self.fetch)
        root_bytes = (record.flavor.get('root_gb') or 0) * GiB or None
        base = cache.get(record.image, max_size=root_bytes)
        if backing_format and base.format != backing_format:
            raise NovaliteError('the image fetched again for %s is %s, but the root disk expects a %s backing file'
                                % (record.image['url'], base.format, backing_format))
        return True
