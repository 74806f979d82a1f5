# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Libvirt domain XML as objects (lxml). Object <-> XML only: no policy here
(that is ``designer``), no libvirt calls (that is ``guest``).

Each field is declared once as an ``XmlProperty`` with a small path:
``'memory'`` is a child's text, ``'memory/@unit'`` an attribute,
``'@type'`` an attribute of the object's own element, ``'nl:name'`` an
element in our metadata namespace. Objects wrap an lxml element that stays
in its tree, so parsing existing XML and editing it keeps everything the
model does not know about. lxml escapes every string: nothing here builds
XML by string concatenation.

Here: the element classes (devices, our metadata, the domain); the field
machinery (``XmlProperty``, ``XmlFlag``, ``XmlChildren``, ``XmlObject``) is
``xml_fields``.
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._libvirt.xml_fields import (
    METADATA_NS,
    XmlChildren,
    XmlFlag,
    XmlObject,
    XmlProperty,
    find_path,
    qualify,
)

try:
    from lxml import etree
except ImportError:  # reported by the module via missing_required_lib
    etree = None


# --- devices -----------------------------------------------------------------
class Disk(XmlObject):
    TAG = 'disk'
    type = XmlProperty('@type')
    device = XmlProperty('@device')
    driver_name = XmlProperty('driver/@name')
    driver_type = XmlProperty('driver/@type')
    driver_cache = XmlProperty('driver/@cache')
    source_file = XmlProperty('source/@file')
    target_dev = XmlProperty('target/@dev')
    target_bus = XmlProperty('target/@bus')
    readonly = XmlFlag('readonly')
    serial = XmlProperty('serial')


class Interface(XmlObject):
    TAG = 'interface'
    type = XmlProperty('@type')
    source_network = XmlProperty('source/@network')
    source_bridge = XmlProperty('source/@bridge')
    mac = XmlProperty('mac/@address')
    model = XmlProperty('model/@type')
    target_dev = XmlProperty('target/@dev')


class Serial(XmlObject):
    TAG = 'serial'
    type = XmlProperty('@type')
    source_path = XmlProperty('source/@path')
    source_append = XmlProperty('source/@append', kind=bool, true='on', false='off')
    target_port = XmlProperty('target/@port', kind=int)


class Console(XmlObject):
    TAG = 'console'
    type = XmlProperty('@type')
    source_path = XmlProperty('source/@path')
    target_type = XmlProperty('target/@type')
    target_port = XmlProperty('target/@port', kind=int)


class Channel(XmlObject):
    """``<channel>``: a stream between host and guest (the QEMU guest
    agent's is ``type='unix'`` with a ``virtio`` target). Without a source
    path libvirt chooses the socket itself; the live XML of a running guest
    then shows it, and the target's ``state`` (connected or disconnected)."""

    TAG = 'channel'
    type = XmlProperty('@type')
    source_mode = XmlProperty('source/@mode')
    source_path = XmlProperty('source/@path')
    target_type = XmlProperty('target/@type')
    target_name = XmlProperty('target/@name')
    target_state = XmlProperty('target/@state')


class Boot(XmlObject):
    TAG = 'boot'
    dev = XmlProperty('@dev')


# --- our metadata -------------------------------------------------------------
class MetaItem(XmlObject):
    TAG = 'nl:meta'
    key = XmlProperty('@key')
    value = XmlProperty('.', doc="the element's own text")


class InstanceMetadata(XmlObject):
    """``<nl:instance>`` inside ``<metadata>``: marks a domain as ours and
    carries the instance identity and flavor (Nova's nova:instance)."""

    TAG = 'nl:instance'
    name = XmlProperty('nl:name')
    creation_time = XmlProperty('nl:creationTime')
    host = XmlProperty('nl:host')
    flavor_vcpus = XmlProperty('nl:flavor/nl:vcpus', kind=int)
    flavor_memory_mb = XmlProperty('nl:flavor/nl:memory', kind=int)
    flavor_root_gb = XmlProperty('nl:flavor/nl:disk', kind=int)
    flavor_ephemeral_gb = XmlProperty('nl:flavor/nl:ephemeral', kind=int)
    flavor_swap_mb = XmlProperty('nl:flavor/nl:swap', kind=int)
    image_url = XmlProperty('nl:image/@url')
    image_checksum = XmlProperty('nl:image/@checksum')
    meta = XmlChildren(MetaItem, 'nl:metadata')

    def _nsmap(self):
        return {'nl': METADATA_NS}


def metadata_host(text):
    """The ``host`` of our metadata element as libvirt's metadata API
    returns it (``<instance>…</instance>``, the namespace left off): '' when
    it names none."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    node = etree.fromstring(text.encode('utf-8'), parser)
    for child in node:
        if isinstance(child.tag, str) and etree.QName(child).localname == 'host':
            return (child.text or '').strip()
    return ''


# --- the domain -----------------------------------------------------------------
class Domain(XmlObject):
    TAG = 'domain'
    type = XmlProperty('@type', doc='virt_type: kvm or qemu')
    id = XmlProperty('@id', kind=int)
    name = XmlProperty('name')
    uuid = XmlProperty('uuid')
    memory_kib = XmlProperty('memory', kind=int)
    memory_unit = XmlProperty('memory/@unit')
    current_memory_kib = XmlProperty('currentMemory', kind=int)
    current_memory_unit = XmlProperty('currentMemory/@unit')
    vcpus = XmlProperty('vcpu', kind=int)
    os_type = XmlProperty('os/type')
    os_arch = XmlProperty('os/type/@arch')
    os_machine = XmlProperty('os/type/@machine')
    boot = XmlChildren(Boot, 'os')
    acpi = XmlFlag('features/acpi')
    apic = XmlFlag('features/apic')
    cpu_mode = XmlProperty('cpu/@mode')
    clock_offset = XmlProperty('clock/@offset')
    on_poweroff = XmlProperty('on_poweroff')
    on_reboot = XmlProperty('on_reboot')
    on_crash = XmlProperty('on_crash')
    emulator = XmlProperty('devices/emulator')
    disks = XmlChildren(Disk, 'devices')
    interfaces = XmlChildren(Interface, 'devices')
    serials = XmlChildren(Serial, 'devices')
    consoles = XmlChildren(Console, 'devices')
    channels = XmlChildren(Channel, 'devices')

    @property
    def instance(self):
        """Our ``<nl:instance>`` metadata, or None on a foreign domain."""
        node = find_path(self.node, ['metadata', qualify(InstanceMetadata.TAG)])
        return InstanceMetadata(node) if node is not None else None

    def set_instance(self, metadata):
        container = find_path(self.node, ['metadata'], create=True)
        old = container.find(qualify(InstanceMetadata.TAG))
        if old is not None:
            container.remove(old)
        container.append(metadata.node)
        return metadata
