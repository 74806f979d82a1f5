# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The filters: whether a host can take a request, and if not, why.

Each filter is ``filter(host, request, context) -> None or reason``, on a
normalised host and request (``host_policy``); ``context`` holds the
normalised ``options``, what the request ``needs`` (``request_needs``) and
its ``group`` (``group_policy.resolve_group``). They run in the order of
``FILTERS`` and the first reason is the host's rejection:

excluded, reachable, enabled (Nova's ComputeFilter), virt type, arch, CPU
features, RAM, vCPUs, disk (Nova's RamFilter, CoreFilter, DiskFilter, with
the arithmetic of ``host_policy``), then the hard server group policies.
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._placement.group_policy import group_filter
from ansible_collections.novalite.compute.plugins.module_utils._placement.host_policy import (
    amount_text,
    fits,
    listed,
    resource_capacity,
)

# resource: (what is needed, unit after the usable amount, unit after the total)
RESOURCE_WORDS = {
    'memory_mb': ('MiB of RAM', ' MiB', ' MiB'),
    'vcpus': ('vCPUs', '', ' vCPUs'),
    'disk_gb': ('GiB of disk', ' GiB', ' GiB'),
}


def excluded_filter(host, request, context):
    if host['compute_host'] in request['exclude_hosts']:
        return 'excluded by the request (the instance is on it now, or the caller ruled it out)'
    return None


def reachable_filter(host, request, context):
    return None if host['reachable'] else 'unreachable (the host did not answer)'


def enabled_filter(host, request, context):
    if host['enabled']:
        return None
    return 'disabled: %s' % (host['disabled_reason'] or 'no reason given')


def virt_type_filter(host, request, context):
    if request['virt_type'] in host['virt_types']:
        return None
    return 'cannot run virt type %s: the host runs %s' % (request['virt_type'], ', '.join(host['virt_types']) or 'none')


def arch_filter(host, request, context):
    wanted, actual = request['arch'], host['arch']
    if wanted is None or actual is None or wanted == actual:
        return None
    return 'arch is %s, the request needs %s' % (actual, wanted)


def cpu_features_filter(host, request, context):
    if request['virt_type'] == 'qemu':
        return None             # TCG emulates the guest's CPU: the host's features do not matter
    missing = sorted(set(request['cpu_features']) - set(host['cpu']['features']))
    if not missing:
        return None
    return 'lacks %d CPU feature(s) the request needs: %s' % (len(missing), listed(missing))


def resource_reason(host, resource, needed):
    """None when ``needed`` of ``resource`` fits on the host, else the arithmetic that says it does not."""
    capacity = resource_capacity(host, resource)
    if fits(needed, capacity['usable']):
        return None
    what, usable_unit, total_unit = RESOURCE_WORDS[resource]
    return 'needs %s %s, %s%s usable (%s%s x %s ratio - %s reserved - %s claimed)' % (
        amount_text(needed), what, amount_text(capacity['usable']), usable_unit,
        amount_text(capacity['total']), total_unit, float(capacity['ratio']),
        amount_text(capacity['reserved']), amount_text(capacity['used']))


def ram_filter(host, request, context):
    return resource_reason(host, 'memory_mb', context['needs']['memory_mb'])


def vcpu_filter(host, request, context):
    return resource_reason(host, 'vcpus', context['needs']['vcpus'])


def disk_filter(host, request, context):
    return resource_reason(host, 'disk_gb', context['needs']['disk_gb'])


FILTERS = (
    ('excluded', excluded_filter),
    ('reachable', reachable_filter),
    ('enabled', enabled_filter),
    ('virt_type', virt_type_filter),
    ('arch', arch_filter),
    ('cpu_features', cpu_features_filter),
    ('ram', ram_filter),
    ('vcpus', vcpu_filter),
    ('disk', disk_filter),
    ('server_group', group_filter),
)


def rejection(host, request, context):
    """The reason of the first filter the host fails, or None when it passes them all."""
    for _name, check in FILTERS:
        reason = check(host, request, context)
        if reason is not None:
            return reason
    return None


def filter_hosts(hosts, request, context):
    """(hosts that pass, in order; {compute_host: reason} of the others)."""
    passing, rejected = [], {}
    for host in hosts:
        reason = rejection(host, request, context)
        if reason is None:
            passing.append(host)
        else:
            rejected[host['compute_host']] = reason
    return passing, rejected
