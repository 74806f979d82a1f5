# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each filter passing and failing, with the exact reason it gives (pure)."""

from __future__ import annotations

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._placement.filter_policy import FILTERS, rejection
from ansible_collections.novalite.compute.plugins.module_utils._placement.group_policy import resolve_group
from ansible_collections.novalite.compute.plugins.module_utils._placement.host_policy import (
    normalise_hosts,
    normalise_options,
    normalise_requests,
    request_needs,
)
from ansible_collections.novalite.compute.tests.unit.module_utils._placement import placement_data as data


def host(name='hv1', **fields):
    return data.host(name, **dict({'arch': 'x86_64'}, **fields))


def request(name='web1', **fields):
    return data.request(name, vcpus=2, memory_mb=2048, root_gb=20, **fields)


def reason_for(host_fields, request_fields, options=None):
    """The rejection of one host (hv1) for one request."""
    options = normalise_options(options)
    hosts = normalise_hosts([host(**host_fields)], options)
    wanted = normalise_requests([request(**request_fields)])[0]
    context = {'options': options, 'group': resolve_group(wanted, hosts), 'needs': request_needs(wanted)}
    return rejection(hosts[0], wanted, context)


def flavor(vcpus=2, memory_mb=2048, root_gb=20, **more):
    return dict(vcpus=vcpus, memory_mb=memory_mb, root_gb=root_gb, **more)


FEATURES = ['f%02d' % number for number in range(10)]


@pytest.mark.parametrize('host_fields, request_fields, options, reason', [
    pytest.param({}, {}, None, None, id='all-pass'),
    # 1. excluded
    pytest.param({}, {'exclude_hosts': ['hv1']}, None,
                 'excluded by the request (the instance is on it now, or the caller ruled it out)', id='excluded'),
    pytest.param({}, {'exclude_hosts': ['hv9']}, None, None, id='excluding-another-host-passes'),
    # 2. reachable
    pytest.param({'reachable': False}, {}, None, 'unreachable (the host did not answer)', id='unreachable'),
    pytest.param({'reachable': True}, {}, None, None, id='reachable'),
    # 3. enabled
    pytest.param({'enabled': False, 'disabled_reason': 'kernel upgrade'}, {}, None, 'disabled: kernel upgrade',
                 id='disabled-with-reason'),
    pytest.param({'enabled': False}, {}, None, 'disabled: no reason given', id='disabled-without-reason'),
    pytest.param({'enabled': True, 'disabled_reason': 'stale'}, {}, None, None, id='enabled-ignores-a-stale-reason'),
    # 4. virt type
    pytest.param({}, {'virt_type': 'xen'}, None, 'cannot run virt type xen: the host runs kvm, qemu',
                 id='virt-type-missing'),
    pytest.param({'virt_types': []}, {}, None, 'cannot run virt type kvm: the host runs none', id='host-runs-nothing'),
    pytest.param({'virt_types': ['qemu']}, {'virt_type': 'qemu'}, None, None, id='virt-type-qemu'),
    # 5. arch
    pytest.param({'arch': 'aarch64'}, {'arch': 'x86_64'}, None, 'arch is aarch64, the request needs x86_64',
                 id='arch-mismatch'),
    pytest.param({'arch': 'aarch64'}, {}, None, None, id='arch-not-requested'),
    pytest.param({'arch': None}, {'arch': 'x86_64'}, None, None, id='host-arch-unknown'),
    pytest.param({}, {'arch': 'x86_64'}, None, None, id='arch-matches'),
    # 6. CPU features
    pytest.param({'cpu': {'features': ['sse4.2']}}, {'cpu_features': ['vmx', 'sse4.2', 'avx512f']}, None,
                 'lacks 2 CPU feature(s) the request needs: avx512f, vmx', id='cpu-features-missing-sorted'),
    pytest.param({}, {'cpu_features': list(reversed(FEATURES))}, None,
                 'lacks 10 CPU feature(s) the request needs: f00, f01, f02, f03, f04, f05, f06, f07 and 2 more',
                 id='cpu-features-many-missing'),
    pytest.param({'cpu': {'model': 'Skylake-Client', 'features': ['avx2', 'sse4.2']}}, {'cpu_features': ['avx2']},
                 None, None, id='cpu-features-present'),
    pytest.param({'cpu': {'features': ['sse4.2']}}, {'cpu_features': ['vmx', 'avx512f'], 'virt_type': 'qemu'}, None,
                 None, id='cpu-features-ignored-under-tcg'),
    # 7. RAM
    pytest.param({'reserved': {'memory_mb': 512}, 'used': {'memory_mb': 14848}}, {}, None,
                 'needs 2048 MiB of RAM, 1024 MiB usable (16384 MiB x 1.0 ratio - 512 reserved - 14848 claimed)',
                 id='ram-short'),
    pytest.param({'reserved': {'memory_mb': 512}, 'used': {'memory_mb': 13824}}, {}, None, None,
                 id='ram-exact-fit'),
    pytest.param({'memory_mb': 8192, 'used': {'memory_mb': 7168}}, {}, None,
                 'needs 2048 MiB of RAM, 1024 MiB usable (8192 MiB x 1.0 ratio - 0 reserved - 7168 claimed)',
                 id='ram-fits-only-with-ratio-1.5-default-1.0'),
    pytest.param({'memory_mb': 8192, 'used': {'memory_mb': 7168}}, {}, {'ram_allocation_ratio': 1.5}, None,
                 id='ram-fits-with-ratio-1.5'),
    pytest.param({'memory_mb': 8192, 'used': {'memory_mb': 7168}, 'ratios': {'ram_allocation_ratio': 1.5}}, {}, None,
                 None, id='ram-fits-with-host-ratio-override'),
    pytest.param({'memory_mb': 8192, 'used': {'memory_mb': 3000}, 'ratios': {'ram_allocation_ratio': 0.5}}, {},
                 {'ram_allocation_ratio': 1.5},
                 'needs 2048 MiB of RAM, 1096 MiB usable (8192 MiB x 0.5 ratio - 0 reserved - 3000 claimed)',
                 id='ram-host-ratio-below-the-option'),
    pytest.param({'memory_mb': 2048, 'reserved': {'memory_mb': 1}}, {}, None,
                 'needs 2048 MiB of RAM, 2047 MiB usable (2048 MiB x 1.0 ratio - 1 reserved - 0 claimed)',
                 id='ram-reserved-makes-it-short'),
    # 8. vCPUs
    pytest.param({'vcpus': 2, 'used': {'vcpus': 1}}, {}, {'cpu_allocation_ratio': 1.0},
                 'needs 2 vCPUs, 1 usable (2 vCPUs x 1.0 ratio - 0 reserved - 1 claimed)', id='vcpus-short'),
    pytest.param({'vcpus': 2, 'used': {'vcpus': 6}}, {}, None, None, id='vcpus-fit-with-default-ratio-4'),
    pytest.param({'vcpus': 4, 'reserved': {'vcpus': 2}}, {'flavor': flavor(vcpus=3)}, {'cpu_allocation_ratio': 1.0},
                 'needs 3 vCPUs, 2 usable (4 vCPUs x 1.0 ratio - 2 reserved - 0 claimed)', id='vcpus-reserved'),
    # 9. disk
    pytest.param({'disk_gb': 30}, {'flavor': flavor(ephemeral_gb=10, swap_mb=1024)}, None,
                 'needs 31 GiB of disk, 30 GiB usable (30 GiB x 1.0 ratio - 0 reserved - 0 claimed)', id='disk-short'),
    pytest.param({'disk_gb': 20.25}, {'flavor': flavor(swap_mb=512)}, None,
                 'needs 20.5 GiB of disk, 20.25 GiB usable (20.25 GiB x 1.0 ratio - 0 reserved - 0 claimed)',
                 id='disk-short-with-swap'),
    pytest.param({'disk_gb': 20.5}, {'flavor': flavor(swap_mb=512)}, None, None, id='disk-exact-fit-with-swap'),
    pytest.param({'disk_gb': 30, 'used': {'disk_gb': 20}}, {}, {'disk_allocation_ratio': 1.5}, None,
                 id='disk-ratio'),
    # the order: the first failing filter gives the reason
    pytest.param({'enabled': False, 'reachable': False}, {'exclude_hosts': ['hv1']}, None,
                 'excluded by the request (the instance is on it now, or the caller ruled it out)',
                 id='excluded-before-unreachable'),
    pytest.param({'enabled': False, 'reachable': False}, {}, None, 'unreachable (the host did not answer)',
                 id='unreachable-before-disabled'),
    pytest.param({'enabled': False, 'memory_mb': 1}, {'virt_type': 'xen'}, None, 'disabled: no reason given',
                 id='disabled-before-virt-type'),
    pytest.param({'memory_mb': 1, 'vcpus': 0, 'disk_gb': 0}, {}, None,
                 'needs 2048 MiB of RAM, 1 MiB usable (1 MiB x 1.0 ratio - 0 reserved - 0 claimed)',
                 id='ram-before-vcpus-before-disk'),
    pytest.param({'vcpus': 0, 'disk_gb': 0}, {}, None,
                 'needs 2 vCPUs, 0 usable (0 vCPUs x 4.0 ratio - 0 reserved - 0 claimed)', id='vcpus-before-disk'),
])
def test_filters(host_fields, request_fields, options, reason):
    assert reason_for(host_fields, request_fields, options) == reason


def test_filters_run_in_the_documented_order():
    assert [name for name, _check in FILTERS] == ['excluded', 'reachable', 'enabled', 'virt_type', 'arch',
                                                  'cpu_features', 'ram', 'vcpus', 'disk', 'server_group']
