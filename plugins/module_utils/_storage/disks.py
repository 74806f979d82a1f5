# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Instance disk files (Nova's imagebackend for the file/qcow2 case).

* root ``disk``: a qcow2 overlay backed by the cached base (O(1), the
  default, Nova's use_cow_images) or a full qcow2 copy; grown to root_gb.
* ``disk.local`` (ephemeral_gb): sparse raw, ext4, label ``ephemeral0``.
* ``disk.swap`` (swap_mb): sparse raw, mkswap, label ``swap0``.
* ``disk.info``: JSON {path: format}, as Nova keeps beside the disks.
"""

from __future__ import annotations

import os

from ansible_collections.novalite.compute.plugins.module_utils._common.commands import run
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import CommandError, ImageUnacceptable, NovaliteError
from ansible_collections.novalite.compute.plugins.module_utils._common.units import GiB, MiB
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.designer import disk_mapping
from ansible_collections.novalite.compute.plugins.module_utils._storage import qemu_img as _qemu_img
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import DISK_INFO, DISK_LOCAL, DISK_ROOT, DISK_SWAP, FILE_MODE
from ansible_collections.novalite.compute.plugins.module_utils._store.records import atomic_write_json


def create_root(target, base, root_gb, use_cow=True):
    """Create the root disk from a CachedImage ``base``."""
    size = root_gb * GiB if root_gb else None
    if size is not None and size < base.virtual_size:
        raise ImageUnacceptable(
            "Flavor's disk is too small for requested image. Flavor disk is %d bytes, image is %d bytes."
            % (size, base.virtual_size))
    if use_cow:
        _qemu_img.create(target, 'qcow2', size or base.virtual_size, backing=base.path, backing_fmt=base.format)
    else:
        _qemu_img.convert(base.path, base.format, target, 'qcow2')
        if size and size > base.virtual_size:
            _qemu_img.resize(target, 'qcow2', size)
    os.chmod(target, FILE_MODE)
    return 'qcow2'


def _sparse_file(target, size_bytes):
    with open(target, 'wb') as handle:
        handle.truncate(size_bytes)
    os.chmod(target, FILE_MODE)


def create_ephemeral(target, ephemeral_gb):
    _sparse_file(target, ephemeral_gb * GiB)
    run(['mkfs.ext4', '-q', '-F', '-L', 'ephemeral0', target], 'formatting %s' % os.path.basename(target))
    return 'raw'


def create_swap(target, swap_mb):
    _sparse_file(target, swap_mb * MiB)
    run(['mkswap', '-L', 'swap0', target], 'formatting %s as swap' % os.path.basename(target))
    return 'raw'


def write_disk_info(path, formats):
    atomic_write_json(path, formats, mode=FILE_MODE)


def virtual_size(path, fmt):
    return _qemu_img.info(path, fmt)['virtual-size']


def grow_root(path, root_gb):
    """Grow the root disk to root_gb; never shrink (Nova's resize check)."""
    size = root_gb * GiB
    current = virtual_size(path, 'qcow2')
    if size < current:
        raise ImageUnacceptable('Unable to resize disk down: root disk is %d bytes, flavor root_gb is %d bytes'
                                % (current, size))
    if size > current:
        _qemu_img.resize(path, 'qcow2', size)


def grow_ephemeral(path, ephemeral_gb):
    """Grow the ext4 ephemeral disk and its filesystem."""
    size = ephemeral_gb * GiB
    if size <= os.path.getsize(path):
        return
    with open(path, 'r+b') as handle:
        handle.truncate(size)
    run(['e2fsck', '-f', '-p', path], 'checking %s' % os.path.basename(path), ok_codes=(0, 1))
    run(['resize2fs', path], 'growing the filesystem of %s' % os.path.basename(path))


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
        grow_root(paths.instance_file(uuid, DISK_ROOT), flavor['root_gb'])
    local = paths.instance_file(uuid, DISK_LOCAL)
    if flavor.get('ephemeral_gb') and os.path.exists(local):
        grow_ephemeral(local, flavor['ephemeral_gb'])
    elif flavor.get('ephemeral_gb'):
        create_ephemeral(local, flavor['ephemeral_gb'])
    swap = paths.instance_file(uuid, DISK_SWAP)
    if os.path.exists(swap):
        os.unlink(swap)
    if flavor.get('swap_mb'):
        create_swap(swap, flavor['swap_mb'])
    write_disk_info(paths.instance_file(uuid, DISK_INFO), dict(
        (paths.instance_file(uuid, d['name']), d['format'])
        for d in disk_mapping(record) if d['device'] == 'disk'))
