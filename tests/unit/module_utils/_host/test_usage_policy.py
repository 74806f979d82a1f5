# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a hypervisor's records and moves claim (pure), one row per case of
Nova's resource tracker that usage_policy follows."""

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._host.usage_policy import flavor_claim, host_usage

HERE, OTHER = 'hv1', 'hv2'
SMALL = {'vcpus': 1, 'memory_mb': 512, 'root_gb': 10, 'ephemeral_gb': 0, 'swap_mb': 0}
BIG = {'vcpus': 4, 'memory_mb': 4096, 'root_gb': 40, 'ephemeral_gb': 10, 'swap_mb': 1024}
NONE = {'memory_mb': 0, 'vcpus': 0, 'disk_gb': 0}


def record(uuid, host=HERE, vm_state='active', flavor=None, **extra):
    return dict({'uuid': uuid, 'name': 'vm-' + uuid, 'host': host, 'vm_state': vm_state, 'task_state': None,
                 'flavor': flavor or SMALL, 'metadata': {}}, **extra)


def migration(uuid, source, dest, status, old=None, new='big', kind='resize'):
    return {'id': 'm-' + uuid, 'instance_uuid': uuid, 'instance_name': 'vm-' + uuid, 'source_compute': source,
            'dest_compute': dest, 'status': status, 'old_flavor': old or SMALL, 'new_flavor': BIG if new == 'big' else new,
            'migration_type': kind}


def used(*flavors):
    total = dict(NONE)
    for flavor in flavors:
        for key, value in flavor_claim(flavor).items():
            total[key] += value
    return total


@pytest.mark.parametrize('records, migrations, expected', [
    ([], [], NONE),
    ([record('a')], [], used(SMALL)),
    ([record('a'), record('b', flavor=BIG)], [], used(SMALL, BIG)),
    ([record('a', vm_state='stopped')], [], used(SMALL)),                      # a stopped guest keeps its claim
    ([record('a', vm_state='error')], [], used(SMALL)),
    ([record('a', vm_state='deleted')], [], NONE),
    ([record('a', host=OTHER)], [], NONE),                                     # shared instances_path: not ours
    ([], [migration('a', OTHER, HERE, 'pre-migrating')], used(BIG)),           # incoming, in flight
    ([], [migration('a', OTHER, HERE, 'migrating', kind='live-migration', new=None)], used(SMALL)),
    ([record('a', flavor=BIG)], [migration('a', OTHER, HERE, 'finished')], used(BIG)),   # arrived: counted once
    ([], [migration('a', OTHER, HERE, 'confirmed')], NONE),                    # done
    ([], [migration('a', OTHER, HERE, 'error')], NONE),
    ([], [migration('a', HERE, OTHER, 'finished')], used(SMALL)),              # left, not confirmed: old flavor held
    ([], [migration('a', HERE, OTHER, 'reverting')], used(SMALL)),
    ([], [migration('a', HERE, OTHER, 'confirmed')], NONE),
    ([record('a', vm_state='resized', flavor=BIG, old_flavor=SMALL,
             migration={'source_compute': HERE, 'dest_compute': HERE})],
     [migration('a', HERE, HERE, 'finished')], used(BIG, SMALL)),             # same-host resize: both until confirm
    ([record('a', flavor=BIG, old_flavor=SMALL, migration={'source_compute': HERE, 'dest_compute': HERE})],
     [migration('a', HERE, HERE, 'confirmed')], used(BIG)),
], ids=['nothing', 'one', 'two', 'stopped', 'error', 'deleted', 'other-host-record', 'incoming-in-flight',
        'incoming-live-old-flavor', 'arrived-counted-once', 'incoming-confirmed', 'incoming-error',
        'outgoing-awaiting-confirm', 'outgoing-reverting', 'outgoing-confirmed', 'same-host-resize-awaiting',
        'same-host-resize-confirmed'])
def test_claims(records, migrations, expected):
    assert host_usage(records, migrations, HERE)['used'] == expected


def test_the_instances_carry_flavor_and_server_group_and_the_moves_are_listed():
    usage = host_usage([record('a', metadata={'server_group': 'web', 'server_group_policy': 'anti-affinity'},
                               virt_type='qemu'), record('b', vm_state='deleted')],
                       [migration('c', OTHER, HERE, 'migrating')], HERE)
    assert usage['instances'] == [{'uuid': 'a', 'name': 'vm-a', 'vm_state': 'active', 'task_state': None,
                                   'flavor': SMALL, 'virt_type': 'qemu', 'server_group': 'web',
                                   'server_group_policy': 'anti-affinity'}]
    assert [(m['instance_uuid'], m['status']) for m in usage['migrations']] == [('c', 'migrating')]


@pytest.mark.parametrize('flavor, disk', [
    ({'root_gb': 10}, 10), ({'root_gb': 10, 'ephemeral_gb': 5, 'swap_mb': 512}, 15.5), (None, 0), ({}, 0),
], ids=['root', 'root-ephemeral-swap', 'no-flavor', 'empty'])
def test_a_flavor_claims_root_ephemeral_and_swap(flavor, disk):
    assert flavor_claim(flavor)['disk_gb'] == disk
