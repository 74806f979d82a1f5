# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server groups: which policy a request's group has, where its members
are, and what that means for each host.

A request names its group in ``metadata.server_group`` and may name the
policy in ``metadata.server_group_policy``. Without a policy it takes the
one the group's members declare, and without members that declare one,
``anti-affinity``. A policy that differs from what a member declares is a
conflict: the request is refused (it gets no host). So is every request of
a group one of whose members declares a policy placement does not know
(its ``policy_error``): the group cannot be judged. The other requests are
placed as usual.

The members are the instances of the group on any of the hosts given,
those placed earlier in the same call included, except the request's own
instance (the same uuid when both have one, else the same name): moving a
member never counts itself.

* ``affinity`` (hard): once the group has a member, only hosts holding one
  pass (Nova's ServerGroupAffinityFilter);
* ``anti-affinity`` (hard): a host holding ``max_per_host`` members fails
  (Nova's ServerGroupAntiAffinityFilter with max_server_per_host);
* ``soft-affinity`` / ``soft-anti-affinity`` never filter; they weigh
  (``soft_group_raw``), as Nova's ServerGroupSoft*Weighers do.
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._placement.host_policy import listed

DEFAULT_GROUP_POLICY = 'anti-affinity'
SOFT_POLICIES = ('soft-affinity', 'soft-anti-affinity')


def same_instance(request, instance):
    """Whether ``instance`` (on a host) is the request's own instance."""
    if request['uuid'] and instance['uuid']:
        return request['uuid'] == instance['uuid']
    return request['name'] == instance['name']


def instance_text(instance):
    return instance['name'] or instance['uuid']


def group_members(hosts, group, request):
    """[(compute_host, instance)] of the group's members other than the request's own, in host order."""
    return [(host['compute_host'], instance) for host in hosts for instance in host['instances']
            if instance['server_group'] == group and not same_instance(request, instance)]


def no_group():
    return {'name': None, 'policy': None, 'conflict': None, 'by_host': {}, 'count': 0}


def resolve_group(request, hosts):
    """The request's group as the filters and weighers use it: {'name',
    'policy' (resolved), 'conflict' (None, or why the request is refused),
    'by_host': {compute_host: [member names]}, 'count': members in all}."""
    group = request['server_group']
    if group is None:
        return no_group()
    members = group_members(hosts, group, request)
    policy, conflict = _unjudged(request, group, members) or _policy_of(request, group, members)
    by_host = {}
    for host, instance in members:
        by_host.setdefault(host, []).append(instance_text(instance))
    return {'name': group, 'policy': policy, 'conflict': conflict, 'by_host': by_host, 'count': len(members)}


def _unjudged(request, group, members):
    """(the request's policy, why the group cannot be judged) when a member
    has an unknown policy, else None."""
    for host, instance in members:
        if instance['policy_error']:
            return request['server_group_policy'], ('server group %r cannot be judged: its member %s (on %s) has an %s'
                                                    % (group, instance_text(instance), host, instance['policy_error']))
    return None


def _policy_of(request, group, members):
    """(policy, conflict): the request's policy, else the first declaring
    member's, else the default; a conflict names a member that differs."""
    declared = [(host, instance) for host, instance in members if instance['server_group_policy']]
    wanted = request['server_group_policy']
    if wanted is not None:
        for host, instance in declared:
            if instance['server_group_policy'] != wanted:
                return wanted, ('server group %r is %s for its member %s (on %s), but the request asks for %s'
                                % (group, instance['server_group_policy'], instance_text(instance), host, wanted))
        return wanted, None
    if not declared:
        return DEFAULT_GROUP_POLICY, None
    first_host, first = declared[0]
    for host, instance in declared[1:]:
        if instance['server_group_policy'] != first['server_group_policy']:
            return first['server_group_policy'], (
                'server group %r is %s for its member %s (on %s) but %s for its member %s (on %s)'
                % (group, first['server_group_policy'], instance_text(first), first_host,
                   instance['server_group_policy'], instance_text(instance), host))
    return first['server_group_policy'], None


def group_filter(host, request, context):
    """None when the host suits the request's hard group policy, else why not."""
    group = context['group']
    here = group['by_host'].get(host['compute_host'], [])
    if group['policy'] == 'affinity' and group['count'] and not here:
        return ('server group %r is affinity and its members are on %s, not here'
                % (group['name'], listed(sorted(group['by_host']))))
    limit = context['options']['max_per_host']
    if group['policy'] == 'anti-affinity' and len(here) >= limit:
        return ('server group %r is anti-affinity and %d of its members are here already (%s), at most %d per host'
                % (group['name'], len(here), listed(here), limit))
    return None


def is_soft(group):
    return group['policy'] in SOFT_POLICIES


def soft_group_raw(host, context):
    """The soft group weigher's raw value: members here, negated for soft-anti-affinity."""
    group = context['group']
    count = len(group['by_host'].get(host['compute_host'], []))
    return count if group['policy'] == 'soft-affinity' else -count
