# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Policy: how an instance record becomes a guest definition (Nova's
libvirt/blockinfo.py + the policy half of _get_guest_config). The XML model
in ``domain_xml`` only stores what this module decides.

Choices: machine ``pc`` (i440fx, so the config drive can be an IDE cdrom:
virtio-only guests without AHCI still see it), virtio disks and NICs,
``host-model`` CPU under KVM, serial port 0 to ``console.log`` in the
instance directory and port 1 on a pty for interactive consoles, and, when
the record asks for it (``guest_agent``, Nova's ``hw_qemu_guest_agent``),
the QEMU guest agent's virtio channel on a unix socket whose path libvirt
chooses (it adds the virtio-serial controller too).
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._libvirt.domain_xml import (
    Boot,
    Channel,
    Disk,
    Domain,
    InstanceMetadata,
    Interface,
    MetaItem,
    Serial,
)
from ansible_collections.novalite.compute.plugins.module_utils._store import paths as _paths

MACHINE_TYPE = 'pc'
ARCH = 'x86_64'
DISK_BUS = 'virtio'
CDROM_BUS = 'ide'
NIC_MODEL = 'virtio'
GUEST_AGENT_CHANNEL = 'org.qemu.guest_agent.0'


def disk_mapping(record):
    """Which disks the instance has, in device order:
    [{'name', 'dev', 'bus', 'device', 'format'}]. Nova's blockinfo mapping:
    root vda, then disk.local, then disk.swap on the next virtio letters,
    the config drive on hdd."""
    flavor = record.flavor or {}
    mapping = [{'name': _paths.DISK_ROOT, 'device': 'disk', 'bus': DISK_BUS, 'format': 'qcow2'}]
    if flavor.get('ephemeral_gb'):
        mapping.append({'name': _paths.DISK_LOCAL, 'device': 'disk', 'bus': DISK_BUS, 'format': 'raw'})
    if flavor.get('swap_mb'):
        mapping.append({'name': _paths.DISK_SWAP, 'device': 'disk', 'bus': DISK_BUS, 'format': 'raw'})
    for index, disk in enumerate(mapping):
        disk['dev'] = 'vd' + chr(ord('a') + index)
    if record.config_drive:
        mapping.append({'name': _paths.DISK_CONFIG, 'device': 'cdrom', 'bus': CDROM_BUS,
                        'format': 'raw', 'dev': 'hdd'})
    return mapping


def instance_metadata(record):
    flavor = record.flavor or {}
    image = record.image or {}
    meta = InstanceMetadata(
        name=record.name,
        creation_time=record.created_at,
        host=record.host,
        flavor_vcpus=flavor.get('vcpus'),
        flavor_memory_mb=flavor.get('memory_mb'),
        flavor_root_gb=flavor.get('root_gb'),
        flavor_ephemeral_gb=flavor.get('ephemeral_gb'),
        flavor_swap_mb=flavor.get('swap_mb'),
        image_url=image.get('url'),
        image_checksum=image.get('checksum'),
    )
    for key in sorted(record.metadata or {}):
        meta.meta.add(MetaItem(key=key, value=record.metadata[key]))
    return meta


def build_domain(record, paths):
    """The complete guest definition for ``record``."""
    flavor = record.flavor
    memory_kib = flavor['memory_mb'] * 1024
    domain = Domain(
        type=record.virt_type,
        name=record.name,
        uuid=record.uuid,
        memory_kib=memory_kib,
        memory_unit='KiB',
        current_memory_kib=memory_kib,
        current_memory_unit='KiB',
        vcpus=flavor['vcpus'],
        os_type='hvm',
        os_arch=ARCH,
        os_machine=MACHINE_TYPE,
        acpi=True,
        apic=True,
        clock_offset='utc',
        on_poweroff='destroy',
        on_reboot='restart',
        on_crash='destroy',
    )
    domain.boot.add(Boot(dev='hd'))
    if record.virt_type == 'kvm':
        domain.cpu_mode = 'host-model'
    domain.set_instance(instance_metadata(record))

    for disk in disk_mapping(record):
        domain.disks.add(Disk(
            type='file',
            device=disk['device'],
            driver_name='qemu',
            driver_type=disk['format'],
            source_file=paths.instance_file(record.uuid, disk['name']),
            target_dev=disk['dev'],
            target_bus=disk['bus'],
            readonly=disk['device'] == 'cdrom',
        ))
    for nic in record.networks or []:
        iface = Interface(mac=nic['mac'], model=nic.get('model') or NIC_MODEL)
        if nic.get('bridge'):
            iface.type = 'bridge'
            iface.source_bridge = nic['bridge']
        else:
            iface.type = 'network'
            iface.source_network = nic['network']
        domain.interfaces.add(iface)
    domain.serials.add(Serial(type='file', source_path=paths.console_log(record.uuid),
                              source_append=True, target_port=0))
    domain.serials.add(Serial(type='pty', target_port=1))
    if record.guest_agent:
        domain.channels.add(guest_agent_channel())
    return domain


def guest_agent_channel():
    """The channel qemu-guest-agent listens on in the guest (the guest sees
    ``/dev/virtio-ports/org.qemu.guest_agent.0``). No source path: libvirt
    puts the socket under its own directory, on qemu:///system and
    qemu:///session alike."""
    return Channel(type='unix', target_type='virtio', target_name=GUEST_AGENT_CHANNEL)
