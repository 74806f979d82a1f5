# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt's capabilities XML (``virConnectGetCapabilities``) read into
plain values: the host CPU and the virt types guests of the host's
architecture can use. XML -> values only, no policy."""

from __future__ import annotations

try:
    from lxml import etree
except ImportError:  # reported by the module via missing_required_lib
    etree = None


def _parse(text):
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.fromstring(text.encode('utf-8') if isinstance(text, str) else text, parser)


def host_cpu(text):
    """{arch, model, vendor, features (sorted), sockets, cores, threads} of ``<host><cpu>``."""
    cpu = _parse(text).find('host/cpu')
    if cpu is None:
        return {'arch': None, 'model': None, 'vendor': None, 'features': []}
    topology = cpu.find('topology')
    facts = {'arch': cpu.findtext('arch'), 'model': cpu.findtext('model'), 'vendor': cpu.findtext('vendor'),
             'features': sorted(f.get('name') for f in cpu.findall('feature') if f.get('name'))}
    for field in ('sockets', 'cores', 'threads'):
        value = topology.get(field) if topology is not None else None
        facts[field] = int(value) if value and value.isdigit() else None
    return facts


def host_cpu_xml(text):
    """The ``<host><cpu>`` element of the capabilities as XML text (what
    ``virConnectBaselineCPU`` takes), or None when there is none."""
    cpu = _parse(text).find('host/cpu')
    return None if cpu is None else etree.tostring(cpu, encoding='unicode')


def required_features(cpu_xml):
    """The names of the features a ``<cpu>`` requires (no policy counts as
    require), sorted: those a baseline with expanded features lists."""
    cpu = _parse(cpu_xml)
    return sorted(f.get('name') for f in cpu.findall('feature')
                  if f.get('name') and f.get('policy', 'require') in ('require', 'force'))


def virt_types(text, arch):
    """The domain types (``kvm``, ``qemu``) of the guests for ``arch``, sorted."""
    found = set()
    for guest in _parse(text).findall('guest'):
        node = guest.find('arch')
        if node is not None and node.get('name') == arch:
            found.update(d.get('type') for d in node.findall('domain') if d.get('type'))
    return sorted(found)
