# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Builders of placement's inputs for the placement tables: a host as
hypervisor_info describes it, a request as the roles send it, and the
hosts a result chose. Each table module fixes its own defaults with them."""

from __future__ import annotations


def host(name='hv1', memory_mb=16384, vcpus=8, disk_gb=500, virt_types=None, **fields):
    """A host with 16 GiB, 8 vCPUs, 500 GiB and kvm and qemu by default;
    ``fields`` add or replace any other key (given as they are, bad ones too)."""
    data = {'compute_host': name, 'virt_types': ['kvm', 'qemu'] if virt_types is None else virt_types, 'memory_mb': memory_mb, 'vcpus': vcpus,
            'disk_gb': disk_gb}
    data.update(fields)
    return data


def request(name='web1', vcpus=1, memory_mb=1024, root_gb=None, **fields):
    """A request for a flavor of ``vcpus`` and ``memory_mb`` (and ``root_gb`` when given)."""
    flavor = {'vcpus': vcpus, 'memory_mb': memory_mb}
    if root_gb is not None:
        flavor['root_gb'] = root_gb
    data = {'name': name, 'flavor': flavor}
    data.update(fields)
    return data


def member(name, group='web', policy='anti-affinity', uuid=None):
    """An instance already on a host, in a server group."""
    return {'name': name, 'uuid': uuid, 'server_group': group, 'server_group_policy': policy}


def hosts_of(result):
    """The host chosen for each request of a ``place`` result, in order (None: none fits)."""
    return [placement['host'] for placement in result['placements']]
