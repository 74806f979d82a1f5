# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The weighers: which of the hosts that passed the filters gets the request.

As in Nova's weighing, each weigher gives every passing host a raw value;
the values are scaled over the passing hosts to [0, 1] (``(v - min) / (max
- min)``, all 0 when they are all equal), multiplied by the weigher's
multiplier and summed into the host's weight:

* RAM, vCPU and disk: the usable amount before this request is claimed
  (``host_policy.usable``); multiplier +1 with ``weigher: spread`` (the
  most free host first), -1 with ``pack`` (the least free first);
* server group, only for a soft policy: the members on the host, negated
  for soft-anti-affinity, multiplier ``soft_group_multiplier``.

Weights are rounded to 4 decimals; the highest wins and a tie goes to the
first compute_host name in sort order, so the choice is deterministic.
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._placement.group_policy import is_soft, soft_group_raw
from ansible_collections.novalite.compute.plugins.module_utils._placement.host_policy import usable

WEIGHT_DECIMALS = 4


def ram_raw(host, context):
    return usable(host, 'memory_mb')


def vcpu_raw(host, context):
    return usable(host, 'vcpus')


def disk_raw(host, context):
    return usable(host, 'disk_gb')


def scaled(values):
    """``values`` scaled to [0, 1]; all 0.0 when they are all equal."""
    if not values:
        return []
    low, high = min(values), max(values)
    if high == low:
        return [0.0] * len(values)
    return [(value - low) / float(high - low) for value in values]


def weighers(context):
    """[(name, multiplier, raw value function)] that weigh this request."""
    options = context['options']
    sign = 1.0 if options['weigher'] == 'spread' else -1.0
    chosen = [('ram', sign, ram_raw), ('vcpus', sign, vcpu_raw), ('disk', sign, disk_raw)]
    if is_soft(context['group']):
        chosen.append(('server_group', float(options['soft_group_multiplier']), soft_group_raw))
    return chosen


def weigh_hosts(hosts, context):
    """{compute_host: weight} of the passing ``hosts``, in their order."""
    totals = [0.0] * len(hosts)
    for _name, multiplier, raw in weighers(context):
        values = scaled([raw(host, context) for host in hosts])
        for position, value in enumerate(values):
            totals[position] += multiplier * value
    # adding 0.0 turns a -0.0 into 0.0
    return dict((host['compute_host'], round(total, WEIGHT_DECIMALS) + 0.0) for host, total in zip(hosts, totals))


def best_host(weights):
    """The compute_host with the highest weight (ties: the first name in sort order), or None."""
    if not weights:
        return None
    return min(weights.items(), key=lambda item: (-item[1], item[0]))[0]
