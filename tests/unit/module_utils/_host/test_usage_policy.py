# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a hypervisor's records and moves claim (pure), one row per case of
Nova's resource tracker that usage_policy follows."""

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._host.facts import USAGE_FIELDS
from ansible_collections.novalite.compute.plugins.module_utils._host.usage_policy import flavor_claim, host_usage
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord

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


def ref(uuid, status):
    """What a record keeps of its migration (``MigrationSource.migration_ref``): no hosts."""
    return {'id': 'm-' + uuid, 'status': status, 'migration_type': 'resize'}


def resizing(uuid, vm_state, task_state, flavor, status='finished', host=HERE):
    """A record in a resize from SMALL to BIG (its flavor the old one until the finish)."""
    return record(uuid, host=host, vm_state=vm_state, task_state=task_state, flavor=flavor, old_flavor=SMALL,
                  new_flavor=BIG, migration=ref(uuid, status))


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
    ([resizing('a', 'resized', None, BIG)], [migration('a', HERE, HERE, 'finished')], used(BIG, SMALL)),
    ([record('a', flavor=BIG, migration=ref('a', 'confirmed'))], [migration('a', HERE, HERE, 'confirmed')], used(BIG)),
], ids=['nothing', 'one', 'two', 'stopped', 'error', 'deleted', 'other-host-record', 'incoming-in-flight',
        'incoming-live-old-flavor', 'arrived-counted-once', 'incoming-confirmed', 'incoming-error',
        'outgoing-awaiting-confirm', 'outgoing-reverting', 'outgoing-confirmed', 'same-host-resize-awaiting',
        'same-host-resize-confirmed'])
def test_claims(records, migrations, expected):
    assert host_usage(records, migrations, HERE)['used'] == expected


# A same-host resize holds the old and the new flavor until it is confirmed or
# reverted (Nova keeps both allocations); the record names its migration by id
# only, the migration record found by that id says both ends are this host.
@pytest.mark.parametrize('records, migrations, expected', [
    ([resizing('a', 'active', 'resize_prep', SMALL, 'pre-migrating')],
     [migration('a', HERE, HERE, 'pre-migrating')], used(SMALL, BIG)),
    ([resizing('a', 'active', 'resize_migrating', SMALL, 'migrating')],
     [migration('a', HERE, HERE, 'migrating')], used(SMALL, BIG)),
    ([resizing('a', 'active', 'resize_migrated', SMALL, 'post-migrating')],
     [migration('a', HERE, HERE, 'post-migrating')], used(SMALL, BIG)),
    ([resizing('a', 'active', 'resize_finish', BIG, 'post-migrating')],
     [migration('a', HERE, HERE, 'post-migrating')], used(SMALL, BIG)),
    ([resizing('a', 'resized', None, BIG)], [migration('a', HERE, HERE, 'finished')], used(SMALL, BIG)),
    ([resizing('a', 'resized', 'resize_confirming', BIG, 'confirming')],
     [migration('a', HERE, HERE, 'confirming')], used(SMALL, BIG)),
    ([resizing('a', 'resized', 'resize_reverting', BIG, 'reverting')],
     [migration('a', HERE, HERE, 'reverting')], used(SMALL, BIG)),
    ([resizing('a', 'stopped', 'resize_prep', SMALL, 'pre-migrating')],
     [migration('a', HERE, HERE, 'pre-migrating')], used(SMALL, BIG)),
    ([resizing('a', 'resized', None, BIG), record('b')],                 # b's move is not a's
     [migration('b', HERE, HERE, 'finished'), migration('a', HERE, HERE, 'finished')], used(SMALL, BIG, SMALL)),
    # ended: one flavor again
    ([record('a', flavor=BIG, migration=ref('a', 'confirmed'))], [migration('a', HERE, HERE, 'confirmed')], used(BIG)),
    ([record('a', migration=ref('a', 'reverted'))], [migration('a', HERE, HERE, 'reverted')], used(SMALL)),
    ([resizing('a', 'active', None, SMALL, 'error')], [migration('a', HERE, HERE, 'error')], used(SMALL)),
    # not a same-host move, or not known to be one
    ([resizing('a', 'resized', None, BIG)], [migration('a', OTHER, HERE, 'finished')], used(BIG)),
    ([resizing('a', 'active', 'resize_migrating', SMALL, 'migrating')],
     [migration('a', HERE, OTHER, 'migrating')], used(SMALL)),           # the new flavor is the other host's claim
    ([resizing('a', 'resized', None, BIG)], [], used(BIG)),
    ([resizing('a', 'resized', None, BIG, host=OTHER)], [migration('a', OTHER, OTHER, 'finished')], NONE),
], ids=['prep', 'migrating', 'migrated', 'finish', 'resized', 'confirming', 'reverting', 'stopped-prep',
        'found-by-id', 'confirmed', 'reverted', 'failed', 'arrived-from-another-host', 'leaving-for-another-host',
        'migration-unknown', 'other-hosts-resize'])
def test_a_same_host_resize_claims_both_flavors_until_it_ends(records, migrations, expected):
    assert host_usage(records, migrations, HERE)['used'] == expected


def test_host_facts_read_every_field_a_same_host_resize_claims_by():
    fields = InstanceRecord(resizing('a', 'active', 'resize_prep', SMALL, 'pre-migrating')).fields(USAGE_FIELDS)
    assert host_usage([fields], [migration('a', HERE, HERE, 'pre-migrating')], HERE)['used'] == used(SMALL, BIG)


def test_the_instances_carry_flavor_and_server_group_and_the_moves_are_listed():
    usage = host_usage([record('a', metadata={'server_group': 'web', 'server_group_policy': 'anti-affinity'},
                               virt_type='qemu'), record('b', vm_state='deleted')],
                       [migration('c', OTHER, HERE, 'migrating')], HERE)
    assert usage['instances'] == [{'uuid': 'a', 'name': 'vm-a', 'vm_state': 'active', 'task_state': None,
                                   'flavor': SMALL, 'virt_type': 'qemu', 'locked': False, 'server_group': 'web',
                                   'server_group_policy': 'anti-affinity'}]
    locked = host_usage([record('a', locked=True)], [], HERE)['instances'][0]
    assert locked['locked'] is True
    assert [(m['instance_uuid'], m['status']) for m in usage['migrations']] == [('c', 'migrating')]


@pytest.mark.parametrize('flavor, disk', [
    ({'root_gb': 10}, 10), ({'root_gb': 10, 'ephemeral_gb': 5, 'swap_mb': 512}, 15.5), (None, 0), ({}, 0),
], ids=['root', 'root-ephemeral-swap', 'no-flavor', 'empty'])
def test_a_flavor_claims_root_ephemeral_and_swap(flavor, disk):
    assert flavor_claim(flavor)['disk_gb'] == disk
