# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A hypervisor's capacity facts, gathered in one look: libvirt's node info
and capabilities, the filesystem of instances_path, what this host's
records and in-flight migrations claim (``usage_policy``) and its service
state. The result is one entry of placement's ``hosts``."""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common.units import GiB
from ansible_collections.novalite.compute.plugins.module_utils._host.usage_policy import host_usage
from ansible_collections.novalite.compute.plugins.module_utils._module.hypervisor import OnHypervisor
from ansible_collections.novalite.compute.plugins.module_utils._store.host_service import HostServiceStore
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import filesystem_space

USAGE_FIELDS = ('uuid', 'name', 'host', 'vm_state', 'task_state', 'flavor', 'old_flavor', 'new_flavor', 'metadata',
                'migration', 'virt_type', 'locked')


class HostFacts(OnHypervisor):
    """The facts of the hypervisor ``hv`` (a ``_module.hypervisor.Hypervisor``)."""

    def service(self):
        return HostServiceStore(self.paths, self.this_host)

    def gather(self):
        node = self.host.node_facts()
        total, free = filesystem_space(self.paths)
        records = [record.fields(USAGE_FIELDS) for record in self.store.list()]
        usage = host_usage(records, self.migrations.list(), self.this_host)
        service = self.service().load()
        facts = {'compute_host': self.this_host, 'hostname': self.host.hostname(), 'uri': self.host.uri,
                 'instances_path': self.paths.root, 'reachable': True,
                 'enabled': service['enabled'], 'disabled_reason': service['disabled_reason'],
                 'service_updated_at': service['updated_at'],
                 'free_memory_mb': self.host.free_memory_mb(),
                 'disk_gb': round(total / float(GiB), 3), 'free_disk_gb': round(free / float(GiB), 3)}
        facts.update(node)
        facts.update(usage)
        seen = dict((guest.uuid, guest.power_state().label) for guest in self.host.list_guests_seen())
        for instance in facts['instances']:
            instance['power_state'] = seen.get(instance['uuid'])
        return facts
