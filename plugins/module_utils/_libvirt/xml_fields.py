# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The field-declaration machinery of the domain XML model (lxml): an
``XmlObject`` wraps one element that stays in its tree, and its class
declares each field once - ``XmlProperty`` (a child's text or an attribute),
``XmlFlag`` (an element's presence), ``XmlChildren`` (a list of sub-objects).
Paths are small: ``'memory'`` is a child's text, ``'memory/@unit'`` an
attribute, ``'@type'`` an attribute of the object's own element, ``'nl:name'``
an element in our metadata namespace (``METADATA_NS``). The element classes
are in ``domain_xml``.
"""

from __future__ import annotations

try:
    from lxml import etree
except ImportError:  # reported by the module via missing_required_lib
    etree = None

METADATA_NS = 'https://novalite.dev/xmlns/compute/1.0'
_PREFIXES = {'nl': METADATA_NS}


def qualify(step):
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
    return [qualify(s) for s in steps], attr


def find_path(node, steps, create=False):
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
        node = find_path(obj.node, self.steps)
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
        node = find_path(obj.node, self.steps, create=True)
        if self.attr:
            node.set(self.attr, str(value))
        else:
            node.text = str(value)

    def _clear(self, obj):
        node = find_path(obj.node, self.steps)
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
        return find_path(obj.node, self.steps) is not None

    def __set__(self, obj, value):
        node = find_path(obj.node, self.steps)
        if value and node is None:
            find_path(obj.node, self.steps, create=True)
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
        return find_path(obj.node, self.steps, create=create) if self.steps else obj.node


class _ChildList(object):
    def __init__(self, obj, spec):
        self._obj = obj
        self._spec = spec

    def _nodes(self):
        parent = self._spec.container(self._obj)
        if parent is None:
            return []
        return parent.findall(qualify(self._spec.cls.TAG))

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
        self.node = node if node is not None else etree.Element(qualify(self.TAG), nsmap=self._nsmap())
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
        if node.tag != qualify(cls.TAG):
            raise ValueError('expected <%s>, got <%s>' % (cls.TAG, node.tag))
        return cls(node)

    def to_xml(self):
        return etree.tostring(self.node, pretty_print=True, encoding='unicode')
