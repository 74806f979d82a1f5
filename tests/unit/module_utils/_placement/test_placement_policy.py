# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""place() end to end (pure): claims counted across the requests of one
call, the result's shape, unplaced requests, and inputs left unchanged."""

from __future__ import annotations

import copy

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._placement.placement_policy import place
from ansible_collections.novalite.compute.tests.unit.module_utils._placement import placement_data as data

GIB = 1024


host = data.host
hosts_of = data.hosts_of


def request(name, memory_mb=1024, vcpus=1, root_gb=10, **fields):
    return data.request(name, vcpus, memory_mb, root_gb, **fields)


@pytest.mark.parametrize('hosts, requests, options, placed', [
    pytest.param([host('hv1', memory_mb=8 * GIB), host('hv2', memory_mb=8 * GIB)],
                 [request('vm%d' % n, memory_mb=6 * GIB) for n in (1, 2, 3)], None, ['hv1', 'hv2', None],
                 id='claims-counted-across-requests'),
    pytest.param([host('hv1'), host('hv2')], [request('vm%d' % n) for n in (1, 2, 3, 4)], None,
                 ['hv1', 'hv2', 'hv1', 'hv2'], id='spread-alternates'),
    pytest.param([host('hv1'), host('hv2')], [request('vm%d' % n) for n in (1, 2, 3)], {'weigher': 'pack'},
                 ['hv1', 'hv1', 'hv1'], id='pack-fills-one-host'),
    pytest.param([host('hv1', memory_mb=4 * GIB), host('hv2', memory_mb=4 * GIB)],
                 [request('vm%d' % n, memory_mb=3 * GIB) for n in (1, 2, 3)], {'weigher': 'pack'},
                 ['hv1', 'hv2', None], id='pack-moves-on-when-full'),
    pytest.param([host('hv1', memory_mb=8 * GIB)], [request('big', memory_mb=10 * GIB), request('small')], None,
                 [None, 'hv1'], id='an-unplaced-request-does-not-stop-the-others'),
    pytest.param([host('hv1', memory_mb=8 * GIB)], [request('big', memory_mb=10 * GIB)], {'ram_allocation_ratio': 1.5},
                 ['hv1'], id='fits-only-with-ram-ratio-1.5'),
    pytest.param([host('hv1', memory_mb=8 * GIB), host('hv2', memory_mb=8 * GIB, ratios={'ram_allocation_ratio': 1.5})],
                 [request('big', memory_mb=10 * GIB)], None, ['hv2'], id='per-host-ratio-override'),
    pytest.param([host('hv1', memory_mb=8 * GIB, reserved={'memory_mb': 512}), host('hv2', memory_mb=4 * GIB)],
                 [request('vm1', memory_mb=8 * GIB)], None, [None], id='reserved-memory-is-not-usable'),
    pytest.param([host('hv1', vcpus=2)], [request('vm%d' % n, vcpus=4) for n in (1, 2, 3)], None,
                 ['hv1', 'hv1', None], id='vcpus-claimed-with-ratio-4'),
    pytest.param([host('hv1', disk_gb=21)], [request('vm%d' % n, root_gb=10) for n in (1, 2, 3)], None,
                 ['hv1', 'hv1', None], id='disk-claimed'),
    pytest.param([host('hv1'), host('hv2')], [request('vm1', exclude_hosts=['hv1'])], None, ['hv2'],
                 id='exclude-hosts'),
    pytest.param([host('hv1', enabled=False, disabled_reason='maintenance'), host('hv2', reachable=False),
                  host('hv3', memory_mb=2048)], [request('vm1')], None, ['hv3'], id='disabled-and-unreachable-skipped'),
    pytest.param([host('hv1'), host('hv2', virt_types=['qemu'])],
                 [request('vm1', virt_type='qemu'), request('vm2', virt_type='qemu')], None, ['hv1', 'hv2'],
                 id='virt-type-qemu-both-hosts'),
    pytest.param([host('hv1'), host('hv2', virt_types=['qemu'])], [request('vm1'), request('vm2')], None,
                 ['hv1', 'hv1'], id='virt-type-kvm-only-one-host'),
    pytest.param([host('hv1', arch='aarch64'), host('hv2', arch='x86_64', memory_mb=4096)],
                 [request('vm1', arch='x86_64')], None, ['hv2'], id='arch'),
    pytest.param([host('hv1', cpu={'features': ['sse4.2']}),
                  host('hv2', cpu={'features': ['sse4.2', 'avx2']}, memory_mb=4096)],
                 [request('vm1', cpu_features=['avx2'])], None, ['hv2'], id='cpu-features'),
    pytest.param([], [request('vm1'), request('vm2')], None, [None, None], id='no-hosts'),
])
def test_place(hosts, requests, options, placed):
    assert hosts_of(place(hosts, requests, options)) == placed


def test_the_unplaced_request_carries_every_host_reason():
    hosts = [host('hv1', memory_mb=8 * GIB), host('hv2', memory_mb=8 * GIB)]
    result = place(hosts, [request('vm%d' % n, memory_mb=6 * GIB) for n in (1, 2, 3)])
    third = result['placements'][2]
    assert third['rejected'] == {
        'hv1': 'needs 6144 MiB of RAM, 2048 MiB usable (8192 MiB x 1.0 ratio - 0 reserved - 6144 claimed)',
        'hv2': 'needs 6144 MiB of RAM, 2048 MiB usable (8192 MiB x 1.0 ratio - 0 reserved - 6144 claimed)',
    }
    assert third['reason'] == ('no host fits vm3: hv1: needs 6144 MiB of RAM, 2048 MiB usable (8192 MiB x 1.0 ratio'
                               ' - 0 reserved - 6144 claimed); hv2: needs 6144 MiB of RAM, 2048 MiB usable'
                               ' (8192 MiB x 1.0 ratio - 0 reserved - 6144 claimed)')
    assert result['unplaced'] == ['vm3']


def test_no_hosts_gives_every_request_a_clear_reason():
    result = place([], [request('vm1'), request('vm2')])
    assert [placement['reason'] for placement in result['placements']] == [
        'no host fits vm1: no hosts were given', 'no host fits vm2: no hosts were given']
    assert (result['unplaced'], result['hosts']) == (['vm1', 'vm2'], {})


def test_no_requests():
    assert place([host('hv1')], []) == {'placements': [], 'unplaced': [], 'hosts': {
        'hv1': {'memory_mb': {'total': 16384, 'reserved': 0, 'ratio': 1.0, 'used': 0, 'usable': 16384},
                'vcpus': {'total': 8, 'reserved': 0, 'ratio': 4.0, 'used': 0, 'usable': 32},
                'disk_gb': {'total': 500, 'reserved': 0, 'ratio': 1.0, 'used': 0, 'usable': 500},
                'instances': 0}}}


def test_the_whole_result():
    hosts = [host('hv1', memory_mb=8192, reserved={'memory_mb': 512}, used={'memory_mb': 1024, 'vcpus': 2},
                  instances=[{'uuid': 'u0', 'name': 'old'}]),
             host('hv2', memory_mb=4096, enabled=False)]
    wanted = request('web3', uuid='u3',
                     flavor={'vcpus': 2, 'memory_mb': 2048, 'root_gb': 20, 'swap_mb': 512},
                     metadata={'server_group': 'web'})
    assert place(hosts, [wanted], {'ram_allocation_ratio': 1.5}) == {
        'placements': [{'name': 'web3', 'uuid': 'u3', 'host': 'hv1', 'weights': {'hv1': 0.0},
                        'rejected': {'hv2': 'disabled: no reason given'}, 'reason': None,
                        'server_group': 'web', 'server_group_policy': 'anti-affinity'}],
        'unplaced': [],
        'hosts': {
            'hv1': {'memory_mb': {'total': 8192, 'reserved': 512, 'ratio': 1.5, 'used': 3072, 'usable': 8704},
                    'vcpus': {'total': 8, 'reserved': 0, 'ratio': 4.0, 'used': 4, 'usable': 28},
                    'disk_gb': {'total': 500, 'reserved': 0, 'ratio': 1.0, 'used': 20.5, 'usable': 479.5},
                    'instances': 2},
            'hv2': {'memory_mb': {'total': 4096, 'reserved': 0, 'ratio': 1.5, 'used': 0, 'usable': 6144},
                    'vcpus': {'total': 8, 'reserved': 0, 'ratio': 4.0, 'used': 0, 'usable': 32},
                    'disk_gb': {'total': 500, 'reserved': 0, 'ratio': 1.0, 'used': 0, 'usable': 500},
                    'instances': 0},
        },
    }


def test_inputs_are_not_changed():
    hosts = [host('hv1', used={'memory_mb': 1024}, cpu={'features': ['avx2']},
                  instances=[{'uuid': 'u0', 'name': 'web0', 'server_group': 'web',
                              'server_group_policy': 'soft-anti-affinity'}]),
             host('hv2', ratios={'ram_allocation_ratio': 1.5})]
    requests = [request('web%d' % n, metadata={'server_group': 'web'}, cpu_features=['avx2'], exclude_hosts=['hv9'])
                for n in (1, 2, 3)]
    options = {'weigher': 'pack', 'max_per_host': 2}
    before = copy.deepcopy((hosts, requests, options))
    result = place(hosts, requests, options)
    assert hosts_of(result) == ['hv1', 'hv1', 'hv1']
    assert (hosts, requests, options) == before


def test_placing_twice_gives_the_same_result():
    hosts = [host('hv%d' % n, memory_mb=4096 * n) for n in (3, 1, 2)]
    requests = [request('vm%d' % n, memory_mb=2048) for n in range(6)]
    assert place(hosts, requests) == place(hosts, requests)
