# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The weighers (pure): values scaled over the passing hosts, spread and
pack, the soft group weigher, and deterministic ties."""

from __future__ import annotations

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._placement.placement_policy import place
from ansible_collections.novalite.compute.plugins.module_utils._placement.weigher_policy import best_host, scaled
from ansible_collections.novalite.compute.tests.unit.module_utils._placement import placement_data as data


def host(name, memory_mb=16384, vcpus=8, disk_gb=500, **fields):
    return data.host(name, memory_mb, vcpus, disk_gb, **dict({'virt_types': ['kvm']}, **fields))


request = data.request


def placement(hosts, options=None, wanted=None):
    return place(hosts, [wanted or request()], options)['placements'][0]


@pytest.mark.parametrize('values, result', [
    pytest.param([], [], id='nothing'),
    pytest.param([7], [0.0], id='one-value'),
    pytest.param([5, 5, 5], [0.0, 0.0, 0.0], id='all-equal'),
    pytest.param([0, 5, 10], [0.0, 0.5, 1.0], id='spread-out'),
    pytest.param([-4, 0, -2], [0.0, 1.0, 0.5], id='negative-values'),
    pytest.param([1.5, 3.0], [0.0, 1.0], id='floats'),
])
def test_scaled(values, result):
    assert scaled(values) == result


@pytest.mark.parametrize('weights, best', [
    pytest.param({}, None, id='no-host'),
    pytest.param({'hv1': 0.5, 'hv2': 1.0}, 'hv2', id='highest'),
    pytest.param({'hv2': 1.0, 'hv1': 1.0}, 'hv1', id='tie-goes-to-the-first-name'),
    pytest.param({'hv1': -1.0, 'hv2': 0.0}, 'hv2', id='negative-weights'),
])
def test_best_host(weights, best):
    assert best_host(weights) == best


THREE = [host('hv1', memory_mb=16384), host('hv2', memory_mb=12288), host('hv3', memory_mb=8192)]


@pytest.mark.parametrize('hosts, options, chosen, weights', [
    pytest.param(THREE, None, 'hv1', {'hv1': 1.0, 'hv2': 0.5, 'hv3': 0.0}, id='spread-most-free-ram'),
    pytest.param(THREE, {'weigher': 'pack'}, 'hv3', {'hv1': -1.0, 'hv2': -0.5, 'hv3': 0.0}, id='pack-least-free-ram'),
    pytest.param([host('hv1', vcpus=4), host('hv2', vcpus=8)], None, 'hv2', {'hv1': 0.0, 'hv2': 1.0},
                 id='spread-most-free-vcpus'),
    pytest.param([host('hv1', disk_gb=100), host('hv2', disk_gb=50)], {'weigher': 'pack'}, 'hv2',
                 {'hv1': -1.0, 'hv2': 0.0}, id='pack-least-free-disk'),
    pytest.param([host('hv1', memory_mb=8192, vcpus=16), host('hv2', memory_mb=16384, vcpus=8, disk_gb=400)], None,
                 'hv1', {'hv1': 2.0, 'hv2': 1.0}, id='weighers-sum'),
    pytest.param([host('hv1', memory_mb=8192, vcpus=16), host('hv2', memory_mb=16384, vcpus=8)], None, 'hv1',
                 {'hv1': 1.0, 'hv2': 1.0}, id='equal-sums-tie-to-the-first-name'),
    pytest.param([host('hv2'), host('hv1')], None, 'hv1', {'hv2': 0.0, 'hv1': 0.0}, id='identical-hosts-tie-by-name'),
    pytest.param([host('hv2'), host('hv1')], {'weigher': 'pack'}, 'hv1', {'hv2': 0.0, 'hv1': 0.0},
                 id='identical-hosts-tie-by-name-pack'),
    pytest.param([host('hv1', memory_mb=1024), host('hv2', memory_mb=2048), host('hv3', memory_mb=4096)], None,
                 'hv3', {'hv1': 0.0, 'hv2': 0.3333, 'hv3': 1.0}, id='weights-rounded-to-4-decimals'),
    pytest.param([host('hv1', used={'memory_mb': 4096}), host('hv2', ratios={'ram_allocation_ratio': 1.25})], None,
                 'hv2', {'hv1': 0.0, 'hv2': 1.0}, id='weighs-usable-after-ratio-and-claims'),
    pytest.param([host('hv1', memory_mb=65536, enabled=False), host('hv2', memory_mb=8192), host('hv3')], None,
                 'hv3', {'hv2': 0.0, 'hv3': 1.0}, id='only-passing-hosts-are-weighed'),
])
def test_weights(hosts, options, chosen, weights):
    result = placement(hosts, options)
    assert (result['host'], result['weights']) == (chosen, weights)


def member(name, policy):
    return {'name': name, 'server_group': 'web', 'server_group_policy': policy}


@pytest.mark.parametrize('policy, multiplier, weights', [
    pytest.param('soft-affinity', None, {'hv1': 0.0, 'hv2': 1.0, 'hv3': 0.5}, id='soft-affinity'),
    pytest.param('soft-affinity', 2.5, {'hv1': 0.0, 'hv2': 2.5, 'hv3': 1.25}, id='soft-affinity-multiplier'),
    pytest.param('soft-anti-affinity', None, {'hv1': 1.0, 'hv2': 0.0, 'hv3': 0.5}, id='soft-anti-affinity'),
    pytest.param('anti-affinity', None, {'hv1': 0.0}, id='hard-policy-filters-instead'),
])
def test_soft_group_weigher(policy, multiplier, weights):
    """Identical hosts: hv2 holds two members, hv3 one, hv1 none; only the
    group weigher tells them apart."""
    hosts = [host('hv1'), host('hv2', instances=[member('web8', policy), member('web9', policy)]),
             host('hv3', instances=[member('web7', policy)])]
    wanted = request(metadata={'server_group': 'web', 'server_group_policy': policy})
    assert placement(hosts, {'soft_group_multiplier': multiplier}, wanted)['weights'] == weights
