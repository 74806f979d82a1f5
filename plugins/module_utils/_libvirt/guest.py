# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A thin wrapper over one ``virDomain`` (Nova's libvirt/guest.py).

Only libvirt calls with libvirt's own flag constants; errors are mapped by
``libvirt_errors``. No policy, no records.
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import HypervisorError
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import PowerState
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.domain_xml import Domain
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.libvirt_errors import libvirt_errors
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.power import from_libvirt

try:
    import libvirt
except ImportError:  # reported by the module via missing_required_lib
    libvirt = None


class Guest(object):
    def __init__(self, domain):
        self._domain = domain

    @property
    def uuid(self):
        return self._domain.UUIDString()

    @property
    def name(self):
        return self._domain.name()

    @property
    def id(self):
        """Domain id while running, -1 when shut off (changes on every boot)."""
        with libvirt_errors('reading the id of domain %s' % self.name):
            return self._domain.ID()

    def power_state(self):
        with libvirt_errors('reading the state of domain %s' % self.name):
            state, _reason = self._domain.state(0)
        return from_libvirt(state)

    def is_running(self):
        return self.power_state() == PowerState.RUNNING

    def xml(self, inactive=False):
        flags = libvirt.VIR_DOMAIN_XML_INACTIVE if inactive else 0
        with libvirt_errors('reading the XML of domain %s' % self.name):
            return self._domain.XMLDesc(flags)

    def config(self, inactive=False):
        return Domain.from_xml(self.xml(inactive=inactive))

    def managed_host(self):
        """The host our metadata on the persistent definition names ('' if
        it names none), or None when the domain carries no metadata of ours."""
        meta = self.config(inactive=True).instance
        if meta is None:
            return None
        return meta.host or ''

    def launch(self, pause=False):
        """Start the defined domain (Nova's Guest.launch)."""
        flags = libvirt.VIR_DOMAIN_START_PAUSED if pause else 0
        with libvirt_errors('starting domain %s' % self.name):
            self._domain.createWithFlags(flags)

    def shutdown(self):
        """Ask the guest to power off by pressing the ACPI power button."""
        with libvirt_errors('sending ACPI shutdown to domain %s' % self.name):
            self._domain.shutdownFlags(libvirt.VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN)

    def destroy(self):
        """Pull the plug. A domain that is already off is not an error."""
        try:
            with libvirt_errors('destroying domain %s' % self.name):
                self._domain.destroy()
        except HypervisorError as exc:
            if exc.code != libvirt.VIR_ERR_OPERATION_INVALID or self.power_state() == PowerState.RUNNING:
                raise

    def undefine(self, keep_nvram=False):
        """Remove the definition with its managed save and snapshot/checkpoint
        metadata, and its NVRAM unless ``keep_nvram`` (a definition that will
        be recreated keeps its UEFI variables). Disks are not touched."""
        flags = (libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                 | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                 | libvirt.VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA)
        flags |= libvirt.VIR_DOMAIN_UNDEFINE_KEEP_NVRAM if keep_nvram else libvirt.VIR_DOMAIN_UNDEFINE_NVRAM
        with libvirt_errors('undefining domain %s' % self.name):
            self._domain.undefineFlags(flags)

    def is_persistent(self):
        with libvirt_errors('reading whether domain %s is persistent' % self.name):
            return bool(self._domain.isPersistent())

    def set_metadata(self, xml, key, uri, live):
        """Replace our metadata element in the persistent config (and the
        running domain when ``live``)."""
        flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
        if live:
            flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
        with libvirt_errors('updating the metadata of domain %s' % self.name):
            self._domain.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, xml, key, uri, flags)
