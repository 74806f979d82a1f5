# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every module engine needs about the hypervisor it runs on, built
once from the shared options (uri, instances_path, compute_host,
lock_timeout; see ``_argspec.hypervisor_options``)."""

from __future__ import annotations

import socket

from ansible_collections.novalite.compute.plugins.module_utils._libvirt.host import Host
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import InstancePaths
from ansible_collections.novalite.compute.plugins.module_utils._store.records import RecordStore


def this_host_name(params):
    """This hypervisor's name in records: compute_host, else the host name."""
    return params.get('compute_host') or socket.gethostname()


def hypervisor(params):
    """(this_host, paths, store, host) for the module parameters."""
    paths = InstancePaths(params['instances_path'])
    this_host = this_host_name(params)
    return (this_host, paths, RecordStore(paths, lock_timeout=params['lock_timeout']),
            Host(params['uri'], this_host=this_host))
