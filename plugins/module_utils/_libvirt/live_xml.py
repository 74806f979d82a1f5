# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The domain XML a live migration hands the destination (Nova's
migration.get_updated_guest_xml): the running guest's migratable XML, with
every file under the source's instance directory moved to the
destination's, the source's backing chains dropped (each destination
disk names its own backing file), channel sockets left for the destination's libvirt to
choose, the source daemon's dynamic security labels dropped (the
destination's daemon applies its own), and our metadata naming the
destination host. Everything else,
device addresses included, is kept as it is, so that libvirt's ABI check
passes.
"""

from __future__ import annotations

import os

from ansible_collections.novalite.compute.plugins.module_utils._libvirt.domain_xml import Domain
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.xml_fields import etree


def _moved(path, source_dir, dest_dir):
    if path and (path == source_dir or path.startswith(source_dir.rstrip(os.sep) + os.sep)):
        return dest_dir.rstrip(os.sep) + path[len(source_dir.rstrip(os.sep)):]
    return path


def xml_for_destination(migratable_xml, source_dir, dest_dir, dest_host):
    """The destination's XML; ``source_dir``/``dest_dir``: the instance
    directory on each host (the same when the storage is shared)."""
    domain = Domain.from_xml(migratable_xml)
    for disk in domain.disks:
        disk.source_file = _moved(disk.source_file, source_dir, dest_dir)
        for chain in disk.node.findall('backingStore'):
            if chain.find('source') is not None:
                # the backing chain as the source sees it (its own _base): the
                # destination reads its own from the image it pre-created
                disk.node.remove(chain)
    for device in list(domain.serials) + list(domain.consoles):
        device.source_path = _moved(device.source_path, source_dir, dest_dir)
    for channel in domain.channels:
        moved = _moved(channel.source_path, source_dir, dest_dir)
        if channel.type == 'unix' and moved == channel.source_path:
            channel.source_path = None      # a socket libvirt chose: the destination chooses its own
            channel.source_mode = None
        else:
            channel.source_path = moved
    for label in domain.node.findall('seclabel'):
        if label.get('type') == 'dynamic':
            # the source daemon's default; the destination applies its own
            # security drivers (a qemu:///session daemon has no DAC driver)
            domain.node.remove(label)
    meta = domain.instance
    if meta is not None:
        meta.host = dest_host
    return domain.to_xml()


def disk_targets(migratable_xml):
    """[{dev, path, readonly, format}] of the guest's file disks."""
    domain = Domain.from_xml(migratable_xml)
    return [{'dev': d.target_dev, 'path': d.source_file, 'readonly': bool(d.readonly),
             'format': d.driver_type or 'raw'} for d in domain.disks if d.source_file]


def cpu_xml(migratable_xml):
    """The guest's ``<cpu>`` element as text ('' when it has none)."""
    node = Domain.from_xml(migratable_xml).node.find('cpu')
    return etree.tostring(node).decode('utf-8') if node is not None else ''
