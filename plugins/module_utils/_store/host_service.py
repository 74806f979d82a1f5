# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""This hypervisor's service state, in its own file (Nova's services table:
``nova service-disable --reason``): whether placement may choose it for new
instances and moved ones, and why not. A host without the file is enabled.

Kept under instances_path (``_hosts/``) with the host's records, one file
per compute_host, so that on a shared instances_path each host keeps its
own. Written crash-safely like a record.
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.failpoints import name_of, reached
from ansible_collections.novalite.compute.plugins.module_utils._store.records import atomic_write_json, read_json_record, utcnow

SERVICE_FIELDS = ('compute_host', 'enabled', 'disabled_reason', 'updated_at')


def default_service(compute_host):
    return {'compute_host': compute_host, 'enabled': True, 'disabled_reason': None, 'updated_at': None}


class HostServiceStore(object):
    def __init__(self, paths, compute_host):
        self.paths = paths
        self.compute_host = compute_host

    def load(self):
        """The service state (enabled when never set)."""
        data = read_json_record(self.paths.host_service(self.compute_host), 'compute_host', self.compute_host,
                                'host service state')
        service = default_service(self.compute_host)
        if data is not None:
            service.update((field, data.get(field)) for field in SERVICE_FIELDS[1:])
            service['enabled'] = data.get('enabled') is not False
        return service

    def save(self, enabled, reason=None):
        service = {'compute_host': self.compute_host, 'enabled': bool(enabled),
                   'disabled_reason': None if enabled else reason, 'updated_at': utcnow()}
        self.paths.ensure_layout()
        atomic_write_json(self.paths.host_service(self.compute_host), service,
                          before_rename=lambda: reached(name_of(states.ACTION_SERVICE, 'write service state')))
        return service
