# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where instances go: ``place(hosts, requests, options)`` filters the hosts
for each request, weighs those that pass and claims the winner, as Nova's
FilterScheduler does. Pure: it reads only its arguments and changes none.

``hosts`` are hypervisor_info results, ``requests`` the instances to place
(``host_policy`` checks both and the options, and holds the capacity
arithmetic); ``filter_policy``, ``weigher_policy`` and ``group_policy``
hold the rules.

Everything is checked before anything is placed. Requests are placed in
the order given; each claim is added to its host before the next request
is looked at (its resources, and the instance with its server group), so
one call never overcommits a host and keeps its own group policies among
the new instances. A request that fits nowhere gets ``host: None`` and the
others are still placed. The result::

    {'placements': [{'name', 'uuid', 'host' (or None),
                     'weights': {compute_host: weight} (passing hosts only),
                     'rejected': {compute_host: reason},
                     'reason': None, or why there is no host,
                     'server_group', 'server_group_policy'}, ...],
     'unplaced': [names of the requests without a host],
     'hosts': {compute_host: {'memory_mb'|'vcpus'|'disk_gb': {'total', 'reserved', 'ratio', 'used', 'usable'},
                              'instances': count}}}   # after every claim
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._placement.filter_policy import filter_hosts
from ansible_collections.novalite.compute.plugins.module_utils._placement.group_policy import resolve_group
from ansible_collections.novalite.compute.plugins.module_utils._placement.host_policy import (
    capacity_report,
    claim,
    normalise_hosts,
    normalise_options,
    normalise_requests,
    request_needs,
)
from ansible_collections.novalite.compute.plugins.module_utils._placement.weigher_policy import best_host, weigh_hosts


def place(hosts, requests, options=None):
    """Place ``requests`` on ``hosts`` (see the module docstring for the shapes)."""
    options = normalise_options(options)
    current = normalise_hosts(hosts, options)
    wanted = normalise_requests(requests)
    placements = []
    for request in wanted:
        placement, current = place_one(current, request, options)
        placements.append(placement)
    return {
        'placements': placements,
        'unplaced': [placement['name'] for placement in placements if placement['host'] is None],
        'hosts': dict((host['compute_host'], capacity_report(host)) for host in current),
    }


def place_one(hosts, request, options):
    """(the placement of one normalised request, the hosts after its claim)."""
    group = resolve_group(request, hosts)
    if group['conflict']:
        return placement_of(request, group, reason='refused %s: %s' % (request['name'], group['conflict'])), hosts
    context = {'options': options, 'group': group, 'needs': request_needs(request)}
    passing, rejected = filter_hosts(hosts, request, context)
    weights = weigh_hosts(passing, context)
    chosen = best_host(weights)
    if chosen is None:
        return placement_of(request, group, rejected=rejected, reason=no_host_reason(request, rejected)), hosts
    claimed = [claim(host, request, context['needs'], group['policy']) if host['compute_host'] == chosen else host
               for host in hosts]
    return placement_of(request, group, host=chosen, weights=weights, rejected=rejected), claimed


def placement_of(request, group, host=None, weights=None, rejected=None, reason=None):
    return {
        'name': request['name'],
        'uuid': request['uuid'],
        'host': host,
        'weights': weights or {},
        'rejected': rejected or {},
        'reason': reason,
        'server_group': group['name'],
        'server_group_policy': group['policy'],
    }


def no_host_reason(request, rejected):
    """Why no host takes the request: every host's rejection, in host order."""
    if not rejected:
        return 'no host fits %s: no hosts were given' % request['name']
    return 'no host fits %s: %s' % (request['name'], '; '.join('%s: %s' % item for item in rejected.items()))
