# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The libvirt connection of one hypervisor (Nova's libvirt/host.py).

Opens the connection once and looks domains up by UUID (never by listing
everything). libvirt errors are mapped by ``libvirt_errors``.
"""

from __future__ import annotations

import os

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import (
    DomainNotFound,
    DomainNotManaged,
    HypervisorError,
)
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.capabilities_xml import (
    host_cpu,
    host_cpu_xml,
    required_features,
    virt_types,
)
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.domain_xml import Domain
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.guest import Guest
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.libvirt_errors import (
    libvirt_errors,
    silence_default_handler,
)
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.power import from_libvirt

try:
    import libvirt
except ImportError:  # reported by the module via missing_required_lib
    libvirt = None


LOOKUP_STEP = 'look up domain'


def unmanaged_reason(guest, this_host):
    """Why ``guest`` is not ours to touch on ``this_host``, or None."""
    owner = guest.managed_host()
    if owner is None:
        return ('libvirt domain %s (uuid %s) is not managed by novalite.compute (it has no novalite '
                'metadata): left untouched' % (guest.name, guest.uuid))
    if owner != this_host:
        return ('libvirt domain %s (uuid %s) is managed by novalite.compute for host %s, not for %s '
                '(this host): left untouched' % (guest.name, guest.uuid, owner or '(none)', this_host))
    return None


class Host(object):
    """``this_host``: this hypervisor's name in records and domain metadata;
    when given, a domain found by uuid must carry our metadata for this
    host, or it is refused (``DomainNotManaged``) and never touched."""

    def __init__(self, uri, this_host=None):
        self.uri = uri
        self.this_host = this_host
        self._conn = None

    @property
    def conn(self):
        if self._conn is None:
            silence_default_handler()
            with libvirt_errors('connecting to %s' % self.uri):
                self._conn = libvirt.open(self.uri)
        return self._conn

    def close(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except libvirt.libvirtError:
                pass
            self._conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- domains -------------------------------------------------------------
    def guest_by_uuid(self, uuid):
        """The Guest with this UUID, or None when libvirt has no such domain.
        Raises DomainNotManaged for a domain that is not ours."""
        guest = self.any_guest_by_uuid(uuid)
        if guest is not None:
            self.check_managed(guest)
        return guest

    def any_guest_by_uuid(self, uuid):
        """The Guest with this UUID whoever manages it, or None: for looking
        only (reconcile's report), never for acting."""
        try:
            with libvirt_errors('looking up domain %s' % uuid):
                return Guest(self.conn.lookupByUUIDString(uuid))
        except DomainNotFound:
            return None

    def check_managed(self, guest):
        """Raise DomainNotManaged unless ``guest`` carries our metadata for
        this host (no check when the Host was made without ``this_host``)."""
        if self.this_host is None:
            return
        problem = unmanaged_reason(guest, self.this_host)
        if problem:
            raise DomainNotManaged(problem, step=LOOKUP_STEP)

    def guest_by_name(self, name):
        """The Guest with this name whoever manages it (callers check), or None."""
        try:
            with libvirt_errors('looking up domain %s' % name):
                return Guest(self.conn.lookupByName(name))
        except DomainNotFound:
            return None

    def define(self, xml):
        """Define (or redefine) a persistent domain from XML; a domain of
        that uuid that is not ours is never redefined (DomainNotManaged)."""
        existing = self.any_guest_by_uuid(Domain.from_xml(xml).uuid)
        if existing is not None:
            self.check_managed(existing)
        with libvirt_errors('defining the domain'):
            return Guest(self.conn.defineXML(xml))

    def list_guests(self):
        """All domains, running or not, in one libvirt call (whoever manages
        them: callers check with ``unmanaged_reason``)."""
        with libvirt_errors('listing domains'):
            return [Guest(dom) for dom in self.conn.listAllDomains(0)]

    def list_guests_seen(self):
        """All domains with their power states, in one libvirt call
        (``SeenGuest``s: the states of that moment)."""
        with libvirt_errors('listing domains and their states'):
            stats = self.conn.getAllDomainStats(libvirt.VIR_DOMAIN_STATS_STATE, 0)
        return [Guest(dom).seen(from_libvirt(values['state.state'])) for dom, values in stats]

    # -- host facts -------------------------------------------------------------
    def check_virt_type(self, virt_type, arch='x86_64'):
        """Refuse early when this host cannot run ``virt_type`` guests."""
        with libvirt_errors('checking that this host supports virt_type %s' % virt_type):
            self.conn.getDomainCapabilities(None, arch, None, virt_type, 0)

    def check_network(self, network):
        """Raise unless the libvirt network exists and is active."""
        with libvirt_errors('looking up libvirt network %s' % network):
            net = self.conn.networkLookupByName(network)
            if not net.isActive():
                raise HypervisorError('libvirt network %s is not active' % network)

    @staticmethod
    def check_bridge(bridge):
        if not os.path.isdir(os.path.join('/sys/class/net', bridge, 'bridge')):
            raise HypervisorError('bridge %s does not exist on this host' % bridge)

    def check_guest_cpu(self, cpu_xml, virt_type, arch='x86_64'):
        """Raise unless this host can run a guest CPU defined by ``cpu_xml``
        (the ``<cpu>`` of the running guest on the source; Nova's
        _compare_cpu). ``host-passthrough`` cannot be compared: it needs
        the same CPU on both hosts."""
        if not cpu_xml or "mode='host-passthrough'" in cpu_xml or 'mode="host-passthrough"' in cpu_xml:
            return None
        with libvirt_errors('comparing the guest CPU with this host'):
            result = self.conn.compareHypervisorCPU(None, arch, None, virt_type, cpu_xml, 0)
        if result == libvirt.VIR_CPU_COMPARE_INCOMPATIBLE:
            raise HypervisorError('this host cannot run the guest CPU %s (libvirt compareHypervisorCPU: '
                                  'incompatible)' % ' '.join(cpu_xml.split()))
        return result

    def node_facts(self):
        """What this hypervisor has: {memory_mb, vcpus, arch, virt_types, cpu}
        (libvirt's node info and capabilities; Nova's get_available_resource)."""
        with libvirt_errors('reading the node info and capabilities'):
            info = self.conn.getInfo()
            text = self.conn.getCapabilities()
        cpu = host_cpu(text)
        cpu_xml = host_cpu_xml(text)
        if cpu_xml is not None:
            cpu['features'] = self._all_cpu_features(cpu_xml, cpu['features'])
        return {'memory_mb': int(info[1]), 'vcpus': int(info[2]), 'arch': cpu['arch'],
                'virt_types': virt_types(text, cpu['arch']) if cpu['arch'] else [], 'cpu': cpu}

    def _all_cpu_features(self, cpu_xml, listed):
        """Every feature of the host CPU, its model's own included.
        Capabilities list only the features beyond the model, so two hosts'
        lists compare only when their models are the same; libvirt's baseline
        of the one CPU with expanded features lists them all (less those only
        the host's OS sets, such as osxsave: the listed ones are kept too). A
        libvirt that cannot expand keeps the listed ones."""
        try:
            expanded = self.conn.baselineCPU([cpu_xml], libvirt.VIR_CONNECT_BASELINE_CPU_EXPAND_FEATURES)
        except libvirt.libvirtError:
            return listed
        return sorted(set(required_features(expanded)) | set(listed)) if expanded else listed

    def free_memory_mb(self):
        with libvirt_errors('reading free host memory'):
            return self.conn.getFreeMemory() // (1024 * 1024)

    def hostname(self):
        with libvirt_errors('reading the hypervisor host name'):
            return self.conn.getHostname()
