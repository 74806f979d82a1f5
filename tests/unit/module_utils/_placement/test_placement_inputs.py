# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placement's input checks and capacity arithmetic (pure): every malformed
shape is an InvalidInput naming the host, request or option and the field."""

from __future__ import annotations

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.novalite.compute.plugins.module_utils._placement.host_policy import (
    normalise_hosts,
    normalise_options,
    normalise_requests,
    request_needs,
    resource_capacity,
)
from ansible_collections.novalite.compute.plugins.module_utils._placement.placement_policy import place
from ansible_collections.novalite.compute.tests.unit.module_utils._placement import placement_data as data


def host(name='hv1', **fields):
    return data.host(name, **dict({'arch': 'x86_64'}, **fields))


def request(name='web1', **fields):
    return data.request(name, vcpus=2, memory_mb=2048, root_gb=20, **fields)


def without(data, field):
    data = dict(data)
    del data[field]
    return data


# --- capacity ----------------------------------------------------------------------
@pytest.mark.parametrize('fields, options, resource, limit, usable', [
    pytest.param({'reserved': {'memory_mb': 512}, 'used': {'memory_mb': 4096}}, None, 'memory_mb', 15872, 11776,
                 id='ram-total-minus-reserved-minus-used'),
    pytest.param({'reserved': {'memory_mb': 512}, 'used': {'memory_mb': 4096}}, {'ram_allocation_ratio': 1.5},
                 'memory_mb', 24064, 19968, id='ram-ratio-scales-the-total-then-reserved-comes-off'),
    pytest.param({'ratios': {'ram_allocation_ratio': 2.0}}, {'ram_allocation_ratio': 1.5}, 'memory_mb', 32768,
                 32768, id='ram-host-ratio-overrides-the-option'),
    pytest.param({'used': {'vcpus': 3}}, None, 'vcpus', 32, 29, id='vcpus-default-ratio-4'),
    pytest.param({'reserved': {'vcpus': 2}, 'ratios': {'cpu_allocation_ratio': 1.0}}, None, 'vcpus', 6, 6,
                 id='vcpus-reserved-and-host-ratio'),
    pytest.param({'disk_gb': 500.5, 'used': {'disk_gb': 40.5}}, None, 'disk_gb', 500.5, 460.0,
                 id='disk-float-amounts'),
    pytest.param({'reserved': {'disk_gb': 100}}, {'disk_allocation_ratio': 2.0}, 'disk_gb', 900, 900,
                 id='disk-ratio-and-reserved'),
    pytest.param({'memory_mb': 4096, 'used': {'memory_mb': 6144}}, None, 'memory_mb', 4096, -2048,
                 id='overcommitted-host-has-negative-usable'),
])
def test_capacity(fields, options, resource, limit, usable):
    hosts = normalise_hosts([host(**fields)], normalise_options(options))
    capacity = resource_capacity(hosts[0], resource)
    assert (capacity['limit'], capacity['usable']) == (limit, usable)


@pytest.mark.parametrize('flavor, needs', [
    pytest.param({'vcpus': 2, 'memory_mb': 2048}, {'memory_mb': 2048, 'vcpus': 2, 'disk_gb': 0}, id='no-disks'),
    pytest.param({'vcpus': 1, 'memory_mb': 512, 'root_gb': 20, 'ephemeral_gb': 10, 'swap_mb': 1024},
                 {'memory_mb': 512, 'vcpus': 1, 'disk_gb': 31}, id='root-ephemeral-and-swap'),
    pytest.param({'vcpus': 1, 'memory_mb': 512, 'root_gb': 1, 'swap_mb': 512},
                 {'memory_mb': 512, 'vcpus': 1, 'disk_gb': 1.5}, id='swap-in-gib'),
])
def test_request_needs(flavor, needs):
    assert request_needs(normalise_requests([request(flavor=flavor)])[0]) == needs


def test_host_defaults_are_filled_in():
    normal = normalise_hosts([host(arch=None)], normalise_options(None))[0]
    assert (normal['enabled'], normal['reachable'], normal['disabled_reason'], normal['arch']) == (True, True, None, None)
    assert normal['cpu'] == {'model': None, 'vendor': None, 'features': []}
    assert normal['reserved'] == normal['used'] == {'memory_mb': 0, 'vcpus': 0, 'disk_gb': 0}
    assert normal['ratio'] == {'memory_mb': 1.0, 'vcpus': 4.0, 'disk_gb': 1.0}
    assert normal['instances'] == []


@pytest.mark.parametrize('instance, policy, error', [
    ({'name': 'a', 'server_group': 'web', 'server_group_policy': 'affinity'}, 'affinity', None),
    ({'name': 'a', 'server_group': 'web'}, None, None),
    ({'name': 'a', 'server_group': 'web', 'server_group_policy': ''}, None, None),
    ({'name': 'a', 'server_group': 'web', 'server_group_policy': 'strict'}, None, "unknown policy 'strict'"),
    ({'name': 'a', 'server_group': 'web', 'server_group_policy': ['affinity']}, None, "unknown policy ['affinity']"),
    ({'name': 'a', 'server_group_policy': 'strict'}, None, None),          # no group: the policy is dropped
], ids=['known', 'none', 'empty', 'unknown', 'not-a-string', 'without-a-group'])
def test_an_instance_with_an_unknown_group_policy_stays_in_its_hosts_view(instance, policy, error):
    normal = normalise_hosts([host(instances=[instance])], normalise_options(None))[0]
    assert normal['instances'] == [{'uuid': None, 'name': 'a', 'server_group': instance.get('server_group'),
                                    'server_group_policy': policy, 'policy_error': error}]


def test_request_defaults_are_filled_in():
    normal = normalise_requests([request()])[0]
    assert normal == {'name': 'web1', 'uuid': None,
                      'flavor': {'vcpus': 2, 'memory_mb': 2048, 'root_gb': 20, 'ephemeral_gb': 0, 'swap_mb': 0},
                      'virt_type': 'kvm', 'arch': None, 'cpu_features': [], 'server_group': None,
                      'server_group_policy': None, 'exclude_hosts': []}


def test_options_none_values_take_the_defaults():
    assert normalise_options({'weigher': None, 'max_per_host': None}) == normalise_options(None)


# --- bad input ---------------------------------------------------------------------
BAD_HOSTS = [
    pytest.param('hv1', 'hosts must be a list, got str', id='hosts-not-a-list'),
    pytest.param({'hv1': host()}, 'hosts must be a list, got dict', id='hosts-a-dict'),
    pytest.param(None, 'hosts must be a list, got NoneType', id='hosts-none'),
    pytest.param([host(), 'hv2'], 'hosts[1] must be a dict, got str', id='host-not-a-dict'),
    pytest.param([without(host(), 'compute_host')], 'hosts[0]: compute_host is required', id='missing-compute-host'),
    pytest.param([host(name='')], "hosts[0]: compute_host must be a non-empty string, got ''", id='empty-compute-host'),
    pytest.param([host(name=7)], 'hosts[0]: compute_host must be a non-empty string, got 7', id='compute-host-int'),
    pytest.param([host(), host('hv2'), host()], "hosts[2] (hv1): compute_host 'hv1' is also hosts[0]'s",
                 id='duplicate-compute-host'),
    pytest.param([host(), host('hv3', memory_mb='x')],
                 "hosts[1] (hv3): memory_mb must be a non-negative integer, got 'x'", id='memory-not-a-number'),
    pytest.param([host(memory_mb=-1)], 'hosts[0] (hv1): memory_mb must be a non-negative integer, got -1',
                 id='negative-memory'),
    pytest.param([host(memory_mb=True)], 'hosts[0] (hv1): memory_mb must be a non-negative integer, got True',
                 id='bool-as-memory'),
    pytest.param([host(vcpus=4.5)], 'hosts[0] (hv1): vcpus must be a non-negative integer, got 4.5',
                 id='float-vcpus'),
    pytest.param([without(host(), 'vcpus')], 'hosts[0] (hv1): vcpus is required', id='missing-vcpus'),
    pytest.param([without(host(), 'disk_gb')], 'hosts[0] (hv1): disk_gb is required', id='missing-disk'),
    pytest.param([host(disk_gb=float('nan'))], 'hosts[0] (hv1): disk_gb must be a non-negative number, got nan',
                 id='disk-nan'),
    pytest.param([host(disk_gb=10 ** 400)], 'disk_gb must be a non-negative number, got an integer beyond 2**53',
                 id='disk-huge'),
    pytest.param([without(host(), 'virt_types')], 'hosts[0] (hv1): virt_types is required', id='missing-virt-types'),
    pytest.param([host(virt_types='kvm')], 'hosts[0] (hv1): virt_types must be a list of strings, got str',
                 id='virt-types-not-a-list'),
    pytest.param([host(virt_types=['kvm', 1])], 'hosts[0] (hv1): virt_types[1] must be a non-empty string, got 1',
                 id='virt-type-not-a-string'),
    pytest.param([host(enabled='yes')], "hosts[0] (hv1): enabled must be true or false, got 'yes'",
                 id='enabled-not-a-bool'),
    pytest.param([host(reachable=1)], 'hosts[0] (hv1): reachable must be true or false, got 1',
                 id='reachable-not-a-bool'),
    pytest.param([host(disabled_reason=5)], 'hosts[0] (hv1): disabled_reason must be a string, got 5',
                 id='disabled-reason-not-a-string'),
    pytest.param([host(arch=64)], 'hosts[0] (hv1): arch must be a string, got 64', id='arch-not-a-string'),
    pytest.param([host(cpu=['avx2'])], 'hosts[0] (hv1): cpu must be a dict, got list', id='cpu-not-a-dict'),
    pytest.param([host(cpu={'features': 'avx2'})], 'hosts[0] (hv1): cpu.features must be a list of strings, got str',
                 id='cpu-features-not-a-list'),
    pytest.param([host(cpu={'model': ['x']})], "hosts[0] (hv1): cpu.model must be a string, got ['x']",
                 id='cpu-model-not-a-string'),
    pytest.param([host(reserved=512)], 'hosts[0] (hv1): reserved must be a dict, got int', id='reserved-not-a-dict'),
    pytest.param([host(reserved={'ram': 512})], 'hosts[0] (hv1): reserved has unknown key(s) ram',
                 id='reserved-unknown-key'),
    pytest.param([host(reserved={'memory_mb': -5})],
                 'hosts[0] (hv1): reserved.memory_mb must be a non-negative integer, got -5', id='reserved-negative'),
    pytest.param([host(used={'vcpus': False})], 'hosts[0] (hv1): used.vcpus must be a non-negative integer, got False',
                 id='used-bool'),
    pytest.param([host(used={'disk_gb': 'x'})], "hosts[0] (hv1): used.disk_gb must be a non-negative number, got 'x'",
                 id='used-disk-not-a-number'),
    pytest.param([host(used=[1])], 'hosts[0] (hv1): used must be a dict, got list', id='used-not-a-dict'),
    pytest.param([host(ratios={'ram_ratio': 2})], 'hosts[0] (hv1): ratios has unknown key(s) ram_ratio',
                 id='ratios-unknown-key'),
    pytest.param([host(ratios={'ram_allocation_ratio': 0})],
                 'hosts[0] (hv1): ratios.ram_allocation_ratio must be a positive number, got 0', id='host-ratio-zero'),
    pytest.param([host(instances={'uuid': 'u1'})], 'hosts[0] (hv1): instances must be a list, got dict',
                 id='instances-not-a-list'),
    pytest.param([host(instances=['web1'])], 'hosts[0] (hv1): instances[0] must be a dict, got str',
                 id='instance-not-a-dict'),
    pytest.param([host(instances=[{'name': 'a'}, {'server_group': 'web'}])],
                 'hosts[0] (hv1): instances[1]: needs a name or a uuid', id='instance-without-name-or-uuid'),
    pytest.param([host(instances=[{'name': 3}])], 'hosts[0] (hv1): instances[0]: name must be a string, got 3',
                 id='instance-name-not-a-string'),
]


@pytest.mark.parametrize('hosts, message', BAD_HOSTS)
def test_bad_hosts(hosts, message):
    with pytest.raises(InvalidInput) as caught:
        place(hosts, [request()])
    assert message in str(caught.value)


BAD_REQUESTS = [
    pytest.param({'name': 'web1'}, 'requests must be a list, got dict', id='requests-not-a-list'),
    pytest.param(None, 'requests must be a list, got NoneType', id='requests-none'),
    pytest.param(['web1'], 'requests[0] must be a dict, got str', id='request-not-a-dict'),
    pytest.param([without(request(), 'name')], 'requests[0]: name is required', id='missing-name'),
    pytest.param([request(name='  ')], "requests[0]: name must be a non-empty string, got '  '", id='blank-name'),
    pytest.param([request(), request('web2'), request()], "requests[2] (web1): name 'web1' is also requests[0]'s",
                 id='duplicate-name'),
    pytest.param([request(uuid='u1'), request('web2', uuid='u1')], "requests[1] (web2): uuid 'u1' is also requests[0]'s",
                 id='duplicate-uuid'),
    pytest.param([request(uuid=12)], 'requests[0] (web1): uuid must be a string, got 12', id='uuid-not-a-string'),
    pytest.param([without(request(), 'flavor')], 'requests[0] (web1): flavor is required', id='missing-flavor'),
    pytest.param([request(flavor='m1.small')], 'requests[0] (web1): flavor must be a dict, got str',
                 id='flavor-not-a-dict'),
    pytest.param([request(flavor={'vcpus': 1})], 'requests[0] (web1): flavor.memory_mb is required',
                 id='flavor-missing-memory'),
    pytest.param([request(flavor={'vcpus': 0, 'memory_mb': 64})], 'requests[0] (web1): flavor.vcpus must be at least 1',
                 id='flavor-zero-vcpus'),
    pytest.param([request(flavor={'vcpus': 1, 'memory_mb': True})],
                 'requests[0] (web1): flavor.memory_mb must be a non-negative integer, got True', id='flavor-bool-memory'),
    pytest.param([request(flavor={'vcpus': 1, 'memory_mb': 64, 'root_gb': -1})],
                 'requests[0] (web1): flavor.root_gb must be a non-negative integer, got -1', id='flavor-negative-root'),
    pytest.param([request(flavor={'vcpus': 1, 'memory_mb': 64, 'swap_mb': 10 ** 400})],
                 'requests[0] (web1): flavor.swap_mb is beyond 2**53', id='flavor-huge-swap'),
    pytest.param([request(virt_type=['kvm'])], "requests[0] (web1): virt_type must be a string, got ['kvm']",
                 id='virt-type-not-a-string'),
    pytest.param([request(arch=86)], 'requests[0] (web1): arch must be a string, got 86', id='arch-not-a-string'),
    pytest.param([request(cpu_features='avx2')], 'requests[0] (web1): cpu_features must be a list of strings, got str',
                 id='cpu-features-not-a-list'),
    pytest.param([request(cpu_features=['avx2', ''])],
                 "requests[0] (web1): cpu_features[1] must be a non-empty string, got ''", id='cpu-feature-empty'),
    pytest.param([request(exclude_hosts='hv1')], 'requests[0] (web1): exclude_hosts must be a list of strings, got str',
                 id='exclude-hosts-not-a-list'),
    pytest.param([request(metadata=['web'])], 'requests[0] (web1): metadata must be a dict, got list',
                 id='metadata-not-a-dict'),
    pytest.param([request(metadata={'server_group': 'web', 'server_group_policy': 'strict'})],
                 "requests[0] (web1): metadata.server_group_policy must be one of affinity, anti-affinity, "
                 "soft-affinity, soft-anti-affinity, got 'strict'", id='unknown-group-policy'),
    pytest.param([request(metadata={'server_group_policy': 'affinity'})],
                 "requests[0] (web1): metadata.server_group_policy 'affinity' needs a metadata.server_group",
                 id='group-policy-without-group'),
    pytest.param([request(metadata={'server_group': 5})],
                 'requests[0] (web1): metadata.server_group must be a string, got 5', id='server-group-not-a-string'),
]


@pytest.mark.parametrize('requests, message', BAD_REQUESTS)
def test_bad_requests(requests, message):
    with pytest.raises(InvalidInput) as caught:
        place([host()], requests)
    assert message in str(caught.value)


BAD_OPTIONS = [
    pytest.param(['spread'], 'options must be a dict, got list', id='options-not-a-dict'),
    pytest.param({'weigher': 'spread', 'ram_ratio': 2}, 'options: options has unknown key(s) ram_ratio',
                 id='unknown-option'),
    pytest.param({'weigher': 'random'}, "options: weigher must be 'spread' or 'pack', got 'random'",
                 id='unknown-weigher'),
    pytest.param({'weigher': ['spread']}, "options: weigher must be 'spread' or 'pack', got ['spread']",
                 id='weigher-a-list'),
    pytest.param({'ram_allocation_ratio': 0}, 'options: ram_allocation_ratio must be a positive number, got 0',
                 id='ram-ratio-zero'),
    pytest.param({'cpu_allocation_ratio': -1.0}, 'options: cpu_allocation_ratio must be a positive number, got -1.0',
                 id='cpu-ratio-negative'),
    pytest.param({'disk_allocation_ratio': '1.0'}, "options: disk_allocation_ratio must be a positive number, got '1.0'",
                 id='disk-ratio-a-string'),
    pytest.param({'ram_allocation_ratio': float('inf')}, 'options: ram_allocation_ratio must be a positive number',
                 id='ratio-infinite'),
    pytest.param({'ram_allocation_ratio': True}, 'options: ram_allocation_ratio must be a positive number, got True',
                 id='ratio-bool'),
    pytest.param({'max_per_host': 0}, 'options: max_per_host must be an integer of at least 1, got 0',
                 id='max-per-host-zero'),
    pytest.param({'max_per_host': 1.5}, 'options: max_per_host must be an integer of at least 1, got 1.5',
                 id='max-per-host-float'),
    pytest.param({'max_per_host': True}, 'options: max_per_host must be an integer of at least 1, got True',
                 id='max-per-host-bool'),
    pytest.param({'soft_group_multiplier': -1}, 'options: soft_group_multiplier must be a non-negative number, got -1',
                 id='soft-multiplier-negative'),
    pytest.param({'soft_group_multiplier': 'x'}, "options: soft_group_multiplier must be a non-negative number, got 'x'",
                 id='soft-multiplier-a-string'),
]


@pytest.mark.parametrize('options, message', BAD_OPTIONS)
def test_bad_options(options, message):
    with pytest.raises(InvalidInput) as caught:
        place([host()], [request()], options)
    assert message in str(caught.value)


def test_nothing_is_placed_when_a_later_request_is_bad():
    """The first request is fine, the second is not: place() raises before
    placing anything (there is no partial result)."""
    with pytest.raises(InvalidInput, match=r'requests\[1\] \(web2\): flavor is required'):
        place([host()], [request(), {'name': 'web2'}])
