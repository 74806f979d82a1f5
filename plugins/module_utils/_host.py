# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The libvirt connection of one hypervisor (Nova's libvirt/host.py).

Opens the connection once and looks domains up by UUID (never by listing
everything). libvirt errors are mapped by ``_libvirt_errors``.
"""

from __future__ import annotations

import os

from ansible_collections.novalite.compute.plugins.module_utils._errors import (
    DomainNotFound,
    HypervisorError,
)
from ansible_collections.novalite.compute.plugins.module_utils._guest import Guest
from ansible_collections.novalite.compute.plugins.module_utils._libvirt_errors import (
    libvirt_errors,
    silence_default_handler,
)

try:
    import libvirt
except ImportError:  # reported by the module via missing_required_lib
    libvirt = None


class Host(object):
    def __init__(self, uri):
        self.uri = uri
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
        """The Guest with this UUID, or None when libvirt has no such domain."""
        try:
            with libvirt_errors('looking up domain %s' % uuid):
                return Guest(self.conn.lookupByUUIDString(uuid))
        except DomainNotFound:
            return None

    def guest_by_name(self, name):
        try:
            with libvirt_errors('looking up domain %s' % name):
                return Guest(self.conn.lookupByName(name))
        except DomainNotFound:
            return None

    def define(self, xml):
        """Define (or redefine) a persistent domain from XML."""
        with libvirt_errors('defining the domain'):
            return Guest(self.conn.defineXML(xml))

    def list_guests(self):
        """All domains, running or not, in one libvirt call."""
        with libvirt_errors('listing domains'):
            return [Guest(dom) for dom in self.conn.listAllDomains(0)]

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

    def free_memory_mb(self):
        with libvirt_errors('reading free host memory'):
            return self.conn.getFreeMemory() // (1024 * 1024)

    def hostname(self):
        with libvirt_errors('reading the hypervisor host name'):
            return self.conn.getHostname()
