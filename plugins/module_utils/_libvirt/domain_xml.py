# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Libvirt domain XML as objects (lxml). Object <-> XML only: no policy here
(that is ``_designer.py``), no libvirt calls (that is ``_guest.py``).

Each field is declared once as an ``XmlProperty`` with a small path:
``'memory'`` is a child's text, ``'memory/@unit'`` an attribute,
``'@type'`` an attribute of the object's own element, ``'nl:name'`` an
element in our metadata namespace. Objects wrap an lxml element that stays
in its tree, so parsing existing XML and editing it keeps everything the
model does not know about. lxml escapes every string: nothing here builds
XML by string concatenation.
"""

from __future__ import annotations

try:
    from lxml import etree
except ImportError:  # reported by the module via missing_required_lib
    etree = None

METADATA_NS = 'https://novalite.dev/xmlns/compute/1.0'
_PREFIXES = {'nl': METADATA_NS}


def _qualify(step):
    if ':' in step:
        prefix, local = step.split(':', 1)
        return '{%s}%s' % (_PREFIXES[prefix], local)
    return step


def _split(path):
    """'os/type/@arch' -> (['os', 'type'], 'arch'); 'memory' -> (['memory'], None)."""
    steps = path.split('/')
    attr = None
    if steps[-1].startswith('@'):
        attr = steps.pop()[1:]
    return [_qualify(s) for s in steps], attr


def _find(node, steps, create=False):
    for step in steps:
        child = node.find(step)
        if child is None:
            if not create:
                return None
            child = etree.SubElement(node, step)
        node = child
    return node


class XmlProperty(object):
    """A scalar field: text of an element or value of an attribute."""

    def __init__(self, path, kind=str, doc=None, true='yes', false='no'):
        self.path = path
        self.steps, self.attr = _split(path)
        self.kind = kind
        self.true, self.false = true, false
        self.__doc__ = doc

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        node = _find(obj.node, self.steps)
        if node is None:
            return None
        raw = node.get(self.attr) if self.attr else node.text
        if raw is None:
            return None
        if self.kind is bool:
            return raw in ('yes', 'on', 'true', '1')
        return self.kind(raw.strip() if self.kind is int else raw)

    def __set__(self, obj, value):
        if value is None:
            self._clear(obj)
            return
        if self.kind is bool:
            value = self.true if value else self.false
        node = _find(obj.node, self.steps, create=True)
        if self.attr:
            node.set(self.attr, str(value))
        else:
            node.text = str(value)

    def _clear(self, obj):
        node = _find(obj.node, self.steps)
        if node is None:
            return
        if self.attr:
            node.attrib.pop(self.attr, None)
        elif node is obj.node:
            node.text = None
        else:
            node.getparent().remove(node)


class XmlFlag(object):
    """A boolean field expressed by an element's presence (``<acpi/>``)."""

    def __init__(self, path, doc=None):
        self.steps = _split(path)[0]
        self.__doc__ = doc

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return _find(obj.node, self.steps) is not None

    def __set__(self, obj, value):
        node = _find(obj.node, self.steps)
        if value and node is None:
            _find(obj.node, self.steps, create=True)
        elif not value and node is not None:
            node.getparent().remove(node)


class XmlChildren(object):
    """A list of sub-objects of one class under a container path ('' = self)."""

    def __init__(self, cls, container=''):
        self.cls = cls
        self.steps = _split(container)[0] if container else []

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        return _ChildList(obj, self)

    def container(self, obj, create=False):
        return _find(obj.node, self.steps, create=create) if self.steps else obj.node


class _ChildList(object):
    def __init__(self, obj, spec):
        self._obj = obj
        self._spec = spec

    def _nodes(self):
        parent = self._spec.container(self._obj)
        if parent is None:
            return []
        return parent.findall(_qualify(self._spec.cls.TAG))

    def __iter__(self):
        return iter([self._spec.cls(node) for node in self._nodes()])

    def __len__(self):
        return len(self._nodes())

    def __getitem__(self, index):
        return self._spec.cls(self._nodes()[index])

    def add(self, child):
        """Append ``child`` after the last sibling of its kind (libvirt keeps
        device order meaningful), or at the end of the container."""
        parent = self._spec.container(self._obj, create=True)
        existing = self._nodes()
        if existing:
            existing[-1].addnext(child.node)
        else:
            parent.append(child.node)
        return child

    def remove(self, child):
        child.node.getparent().remove(child.node)

    def clear(self):
        for node in self._nodes():
            node.getparent().remove(node)


class XmlObject(object):
    TAG = None

    def __init__(self, node=None, **fields):
        if etree is None:
            raise RuntimeError('lxml is required')
        self.node = node if node is not None else etree.Element(_qualify(self.TAG), nsmap=self._nsmap())
        for name, value in fields.items():
            if not hasattr(type(self), name):
                raise AttributeError('%s has no field %s' % (type(self).__name__, name))
            setattr(self, name, value)

    def _nsmap(self):
        return None

    @classmethod
    def from_xml(cls, text):
        parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
        node = etree.fromstring(text.encode('utf-8') if isinstance(text, str) else text, parser)
        if node.tag != _qualify(cls.TAG):
            raise ValueError('expected <%s>, got <%s>' % (cls.TAG, node.tag))
        return cls(node)

    def to_xml(self):
        return etree.tostring(self.node, pretty_print=True, encoding='unicode')


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

    @property
    def instance(self):
        """Our ``<nl:instance>`` metadata, or None on a foreign domain."""
        node = _find(self.node, ['metadata', _qualify(InstanceMetadata.TAG)])
        return InstanceMetadata(node) if node is not None else None

    def set_instance(self, metadata):
        container = _find(self.node, ['metadata'], create=True)
        old = container.find(_qualify(InstanceMetadata.TAG))
        if old is not None:
            container.remove(old)
        container.append(metadata.node)
        return metadata
