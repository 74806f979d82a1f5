# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server groups (pure): hard policies filter, soft ones only weigh, a
policy conflict refuses the request, and an instance being moved never
counts as a member of its own group."""

from __future__ import annotations

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._placement.group_policy import same_instance
from ansible_collections.novalite.compute.plugins.module_utils._placement.placement_policy import place
from ansible_collections.novalite.compute.tests.unit.module_utils._placement import placement_data as data


def host(name, memory_mb=16384, instances=(), **fields):
    return data.host(name, memory_mb, **dict({'virt_types': ['kvm'], 'instances': list(instances)}, **fields))


member = data.member
hosts_of = data.hosts_of


def request(name, group='web', policy=None, **fields):
    metadata = {'server_group': group}
    if policy:
        metadata['server_group_policy'] = policy
    return data.request(name, **dict({'metadata': metadata if group else {}}, **fields))


@pytest.mark.parametrize('hosts, requests, options, placed', [
    # hard anti-affinity among the new instances of one call
    pytest.param([host('hv1'), host('hv2')], [request('web%d' % n, policy='anti-affinity') for n in (1, 2, 3)], None,
                 ['hv1', 'hv2', None], id='anti-affinity-3-members-2-hosts'),
    pytest.param([host('hv1'), host('hv2')], [request('web%d' % n, policy='anti-affinity') for n in (1, 2, 3)],
                 {'max_per_host': 2}, ['hv1', 'hv2', 'hv1'], id='anti-affinity-max-per-host-2'),
    pytest.param([host('hv1'), host('hv2')], [request('web%d' % n) for n in (1, 2, 3)], None,
                 ['hv1', 'hv2', None], id='no-policy-no-members-means-anti-affinity'),
    pytest.param([host('hv1', instances=[member('web0')]), host('hv2', memory_mb=4096)], [request('web1')], None,
                 ['hv2'], id='anti-affinity-avoids-an-existing-member'),
    # hard affinity follows the first member
    pytest.param([host('hv1'), host('hv2'), host('hv3')], [request('web%d' % n, policy='affinity') for n in (1, 2, 3)],
                 None, ['hv1', 'hv1', 'hv1'], id='affinity-follows-the-first-placed-in-the-call'),
    pytest.param([host('hv1'), host('hv2', memory_mb=4096, instances=[member('web0', policy='affinity')])],
                 [request('web1', policy='affinity')], None, ['hv2'], id='affinity-follows-an-existing-member'),
    pytest.param([host('hv1'), host('hv2', memory_mb=4096, instances=[member('web0', policy='affinity')])],
                 [request('web1')], None, ['hv2'], id='policy-taken-from-the-members'),
    pytest.param([host('hv1'), host('hv2', memory_mb=1024, used={'memory_mb': 512},
                                    instances=[member('web0', policy='affinity')])],
                 [request('web1', policy='affinity')], None, [None], id='affinity-member-host-full'),
    pytest.param([host('hv1'), host('hv2', instances=[member('db0', group='db', policy='affinity')])],
                 [request('web1', policy='affinity')], None, ['hv1'], id='affinity-other-groups-do-not-count'),
    # soft policies change the winner and never reject
    pytest.param([host('hv1'), host('hv2', memory_mb=12288, instances=[member('web0', policy='soft-affinity')])],
                 [request('web1', policy='soft-affinity')], {'soft_group_multiplier': 2.0}, ['hv2'],
                 id='soft-affinity-moves-the-winner'),
    pytest.param([host('hv1'), host('hv2', memory_mb=12288, instances=[member('web0', policy='soft-affinity')])],
                 [request('web1', policy='soft-affinity')], {'soft_group_multiplier': 0.0}, ['hv1'],
                 id='soft-affinity-multiplier-0-does-nothing'),
    pytest.param([host('hv1'), host('hv2', memory_mb=12288, instances=[member('web0', policy='soft-affinity')])],
                 [request('web1', group=None)], {'soft_group_multiplier': 2.0}, ['hv1'],
                 id='without-a-group-the-freer-host-wins'),
    pytest.param([host('hv1', instances=[member('web0', policy='soft-anti-affinity')]), host('hv2', memory_mb=12288)],
                 [request('web1', policy='soft-anti-affinity')], {'soft_group_multiplier': 2.0}, ['hv2'],
                 id='soft-anti-affinity-moves-the-winner'),
    pytest.param([host('hv1', instances=[member('web0', policy='soft-anti-affinity')])],
                 [request('web1', policy='soft-anti-affinity'), request('web2', policy='soft-anti-affinity')], None,
                 ['hv1', 'hv1'], id='soft-anti-affinity-never-rejects'),
    pytest.param([host('hv1'), host('hv2', instances=[member('web0', policy='soft-affinity')])],
                 [request('web1', policy='soft-affinity', exclude_hosts=['hv2'])], None, ['hv1'],
                 id='soft-affinity-never-rejects-the-others'),
])
def test_group_placement(hosts, requests, options, placed):
    assert hosts_of(place(hosts, requests, options)) == placed


def test_anti_affinity_reason_names_the_group_and_members():
    result = place([host('hv1'), host('hv2')], [request('web%d' % n, policy='anti-affinity') for n in (1, 2, 3)])
    third = result['placements'][2]
    assert third['rejected'] == {
        'hv1': "server group 'web' is anti-affinity and 1 of its members are here already (web1), at most 1 per host",
        'hv2': "server group 'web' is anti-affinity and 1 of its members are here already (web2), at most 1 per host",
    }
    assert result['unplaced'] == ['web3']


def test_affinity_reason_names_where_the_members_are():
    hosts = [host('hv1'), host('hv2', instances=[member('web0', policy='affinity')])]
    placement = place(hosts, [request('web1', policy='affinity')])['placements'][0]
    assert placement['rejected'] == {'hv1': "server group 'web' is affinity and its members are on hv2, not here"}
    assert (placement['host'], placement['server_group'], placement['server_group_policy']) == ('hv2', 'web', 'affinity')


@pytest.mark.parametrize('hosts, requests, refused', [
    pytest.param([host('hv1', instances=[member('web0', policy='anti-affinity')])], [request('web1', policy='affinity')],
                 "refused web1: server group 'web' is anti-affinity for its member web0 (on hv1), "
                 "but the request asks for affinity", id='request-differs-from-a-member'),
    pytest.param([host('hv1', instances=[member('web0', policy='affinity')]),
                  host('hv2', instances=[member('web9', policy='soft-affinity')])], [request('web1')],
                 "refused web1: server group 'web' is affinity for its member web0 (on hv1) "
                 "but soft-affinity for its member web9 (on hv2)", id='members-disagree'),
    pytest.param([host('hv1'), host('hv2')], [request('web1', policy='soft-affinity'), request('web2', policy='affinity')],
                 "refused web2: server group 'web' is soft-affinity for its member web1 (on hv1), "
                 "but the request asks for affinity", id='conflict-with-a-member-placed-earlier-in-the-call'),
])
def test_policy_conflict_is_refused(hosts, requests, refused):
    result = place(hosts, requests)
    last = result['placements'][-1]
    assert (last['host'], last['reason'], last['weights'], last['rejected']) == (None, refused, {}, {})
    assert result['unplaced'] == [last['name']]


def test_a_conflict_does_not_stop_the_other_requests():
    hosts = [host('hv1', instances=[member('web0', policy='anti-affinity')]), host('hv2')]
    result = place(hosts, [request('web1', policy='affinity'), request('db1', group=None)])
    assert hosts_of(result) == [None, 'hv1']


@pytest.mark.parametrize('on_host, moving, placed', [
    pytest.param(member('web1', uuid='u1'), request('web1', policy='anti-affinity', uuid='u1'), 'hv1',
                 id='uuid-match-is-itself'),
    pytest.param(member('old-name', uuid='u1'), request('web1', policy='anti-affinity', uuid='u1'), 'hv1',
                 id='uuid-match-wins-over-the-name'),
    pytest.param(member('web1'), request('web1', policy='anti-affinity', uuid='u1'), 'hv1',
                 id='name-match-when-the-host-has-no-uuid'),
    pytest.param(member('web1', uuid='u2'), request('web1', policy='anti-affinity', uuid='u1'), 'hv2',
                 id='same-name-other-uuid-is-another-member'),
])
def test_moving_a_member_does_not_count_itself(on_host, moving, placed):
    """hv1 holds ``on_host`` and is the freer host: anti-affinity refuses it
    only when ``on_host`` is another member, not the instance being moved."""
    hosts = [host('hv1', memory_mb=32768, instances=[on_host]), host('hv2')]
    assert hosts_of(place(hosts, [moving])) == [placed]


def test_moving_a_member_elsewhere_with_exclude_hosts():
    hosts = [host('hv1', instances=[member('web1', uuid='u1')]), host('hv2', instances=[member('web2', uuid='u2')]),
             host('hv3', memory_mb=8192)]
    placement = place(hosts, [request('web1', uuid='u1', exclude_hosts=['hv1'])])['placements'][0]
    assert placement['host'] == 'hv3'
    assert sorted(placement['rejected']) == ['hv1', 'hv2']
    assert placement['server_group_policy'] == 'anti-affinity'


@pytest.mark.parametrize('request_ids, instance_ids, same', [
    pytest.param(('web1', 'u1'), ('web1', 'u1'), True, id='both'),
    pytest.param(('web1', 'u1'), ('other', 'u1'), True, id='uuid-decides'),
    pytest.param(('web1', 'u1'), ('web1', 'u2'), False, id='uuids-differ'),
    pytest.param(('web1', None), ('web1', 'u1'), True, id='request-without-uuid-uses-the-name'),
    pytest.param(('web1', 'u1'), ('web1', None), True, id='instance-without-uuid-uses-the-name'),
    pytest.param(('web1', None), ('web2', None), False, id='names-differ'),
])
def test_same_instance(request_ids, instance_ids, same):
    wanted = {'name': request_ids[0], 'uuid': request_ids[1]}
    instance = {'name': instance_ids[0], 'uuid': instance_ids[1]}
    assert same_instance(wanted, instance) is same


def unjudged(name, group='web', member_name='a', on='hv1', policy="'x'"):
    return ("refused %s: server group %r cannot be judged: its member %s (on %s) has an unknown policy %s"
            % (name, group, member_name, on, policy))


# A member whose policy placement does not know (a record's metadata says so)
# stays on its host; only the requests of its group are refused, and say why.
@pytest.mark.parametrize('hosts, requests, expected', [
    pytest.param([host('hv1', instances=[member('a', policy='x')])],
                 [request('web1'), request('db1', group='db'), request('plain', group=None)],
                 [(None, unjudged('web1')), ('hv1', None), ('hv1', None)], id='only-its-group-is-refused'),
    pytest.param([host('hv1', instances=[member('a', policy='x')]), host('hv2')],
                 [request('web1', policy='affinity'), request('web2', policy='soft-anti-affinity')],
                 [(None, unjudged('web1')), (None, unjudged('web2'))], id='whatever-policy-the-request-asks'),
    pytest.param([host('hv1', instances=[member('b', policy='anti-affinity')]),
                  host('hv2', instances=[member('a', policy='Affinity')])],
                 [request('web1', policy='anti-affinity')], [(None, unjudged('web1', on='hv2', policy="'Affinity'"))],
                 id='beside-members-with-known-policies'),
    pytest.param([host('hv1', instances=[member('a', policy='x')]), host('hv2')],
                 [request('web1', group=None), request('web2'), request('db1', group='db')],
                 [('hv1', None), (None, unjudged('web2')), ('hv2', None)], id='between-other-requests'),
    pytest.param([host('hv1', instances=[member('a', policy=5)])], [request('web1')],
                 [(None, unjudged('web1', policy='5'))], id='not-a-string'),
    pytest.param([host('hv1', instances=[member('a', policy='x', uuid='u1')]), host('hv2')],
                 [request('a', uuid='u1', policy='anti-affinity')], [('hv1', None)],
                 id='the-member-itself-moving-does-not-count'),
    pytest.param([host('hv1', instances=[member('a', group=None, policy='x')])], [request('web1')],
                 [('hv1', None)], id='a-policy-without-a-group-is-dropped'),
    pytest.param([host('hv1', instances=[member('a', policy='')]), host('hv2')], [request('web1')],
                 [('hv2', None)], id='an-empty-policy-is-none-declared'),
])
def test_a_member_with_an_unknown_policy_refuses_only_its_groups_requests(hosts, requests, expected):
    result = place(hosts, requests)
    assert [(p['host'], p['reason']) for p in result['placements']] == expected
    refused = [p for p in result['placements'] if p['reason']]
    assert all((p['weights'], p['rejected']) == ({}, {}) for p in refused)
    assert result['unplaced'] == [p['name'] for p in refused]
