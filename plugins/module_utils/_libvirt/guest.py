# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A thin wrapper over one ``virDomain`` (Nova's libvirt/guest.py).

Only libvirt calls with libvirt's own flag constants; errors are mapped by
``libvirt_errors``. No policy, no records.
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import DomainNotFound, HypervisorError
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import PowerState
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.domain_xml import Domain, metadata_host
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.libvirt_errors import libvirt_errors
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.power import from_libvirt
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.xml_fields import METADATA_NS

try:
    import libvirt
except ImportError:  # reported by the module via missing_required_lib
    libvirt = None


class Guest(object):
    def __init__(self, domain):
        self._domain = domain

    def seen(self, state=None):
        """This domain as a ``SeenGuest`` (its power state ``state``, or
        read at the next ask and remembered)."""
        return SeenGuest(self._domain, state)

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
        it names none), or None when the domain carries no metadata of ours.
        Asked for our metadata element alone (a reconcile asks it of every
        domain, twice); a domain without a persistent definition (an
        incoming live migration) is read from its whole XML."""
        try:
            with libvirt_errors('reading the novalite metadata of domain %s' % self.name):
                text = self._domain.metadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, METADATA_NS,
                                             libvirt.VIR_DOMAIN_AFFECT_CONFIG)
            return metadata_host(text)
        except DomainNotFound:
            raise
        except HypervisorError as exc:
            if exc.code == libvirt.VIR_ERR_NO_DOMAIN_METADATA:
                return None
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

    # -- live migration (Nova's Guest.migrate, get_job_info, abort_job) ------------
    def migratable_xml(self):
        """The running domain's XML as a destination may take it."""
        flags = libvirt.VIR_DOMAIN_XML_MIGRATABLE | libvirt.VIR_DOMAIN_XML_SECURE
        with libvirt_errors('reading the migratable XML of domain %s' % self.name):
            return self._domain.XMLDesc(flags)

    def migrate(self, dest_uri, flag_names, dest_xml, migrate_uri=None, disks=None, bandwidth_mib=0):
        """Peer-to-peer migration to ``dest_uri`` (the source's libvirtd
        connects there); ``flag_names``: ``VIR_MIGRATE_*`` names without the
        prefix. Blocks until libvirt's job ends."""
        flags = 0
        for name in flag_names:
            flags |= getattr(libvirt, 'VIR_MIGRATE_' + name)
        params = {libvirt.VIR_MIGRATE_PARAM_DEST_XML: dest_xml,
                  libvirt.VIR_MIGRATE_PARAM_PERSIST_XML: dest_xml}
        if migrate_uri:
            params[libvirt.VIR_MIGRATE_PARAM_URI] = migrate_uri
        if disks:
            params[libvirt.VIR_MIGRATE_PARAM_MIGRATE_DISKS] = list(disks)
        if bandwidth_mib:
            params[libvirt.VIR_MIGRATE_PARAM_BANDWIDTH] = int(bandwidth_mib)
        with libvirt_errors('live-migrating domain %s to %s' % (self.name, dest_uri)):
            self._domain.migrateToURI3(dest_uri, params, flags)

    def job_stats(self):
        """libvirt's statistics of the domain's current job ({} when none, and
        on a migration's destination, where libvirt keeps none)."""
        try:
            with libvirt_errors('reading the job of domain %s' % self.name):
                return self._domain.jobStats(0)
        except HypervisorError as exc:
            if exc.code in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_OPERATION_INVALID,
                            libvirt.VIR_ERR_OPERATION_UNSUPPORTED):
                return {}
            raise

    def job_running(self):
        stats = self.job_stats()
        return stats.get('type', libvirt.VIR_DOMAIN_JOB_NONE) not in (
            libvirt.VIR_DOMAIN_JOB_NONE, libvirt.VIR_DOMAIN_JOB_COMPLETED, libvirt.VIR_DOMAIN_JOB_FAILED,
            libvirt.VIR_DOMAIN_JOB_CANCELLED)

    def completed_job_stats(self):
        """Statistics of the last completed job, as the source keeps them."""
        with libvirt_errors('reading the completed job of domain %s' % self.name):
            return self._domain.jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)

    def abort_job(self):
        with libvirt_errors('aborting the job of domain %s' % self.name):
            self._domain.abortJob()

    def start_post_copy(self):
        with libvirt_errors('switching the migration of domain %s to post-copy' % self.name):
            self._domain.migrateStartPostCopy(0)

    def block_size(self, path):
        """(capacity, allocation) in bytes of the disk with source ``path``."""
        with libvirt_errors('reading the size of disk %s of domain %s' % (path, self.name)):
            capacity, allocation, _physical = self._domain.blockInfo(path, 0)
        return capacity, allocation


class SeenGuest(Guest):
    """A Guest whose power state is read once and then remembered: for a
    caller that only looks (one listing of every domain), or that holds the
    instance lock and changes nothing of the domain (a record-only
    correction). Asking again costs no libvirt call."""

    def __init__(self, domain, state=None):
        super().__init__(domain)
        self._seen = state

    def power_state(self):
        if self._seen is None:
            self._seen = super().power_state()
        return self._seen
