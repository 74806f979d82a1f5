# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whole moves through MigrationSource and MigrationDest, each host with
its own fake hypervisor and tmp instances_path; the disks and records go
through the real transfer receiver, run locally instead of over SSH. What
each step leaves on each side: migration statuses, records, files,
domains. Then a same-host resize, and a copy that breaks."""

from __future__ import annotations

import os
import sys

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import MigrationError, TransferError
from ansible_collections.novalite.compute.plugins.module_utils._storage.disks import backing_of, virtual_size
from ansible_collections.novalite.compute.tests.unit import fakes

UUID = '33333333-aaaa-4bbb-8ccc-000000000001'
GiB = 1024 ** 3
BIGGER = dict(fakes.FLAVOR, name='m1.small', memory_mb=128, root_gb=2, swap_mb=8)


@pytest.fixture
def pair(tmp_path, monkeypatch):
    fakes.install_clock(monkeypatch)
    fakes.local_transfer(monkeypatch)
    hv1, hv2 = fakes.host_pair(tmp_path)
    fakes.build(hv1, UUID)
    return hv1, hv2


def files(paths, directory):
    path = os.path.join(paths.root, directory)
    return sorted(n for n in os.listdir(path) if not n.startswith('.')) if os.path.isdir(path) else None


def status(hv, migration):
    return hv.migrations.load(migration['id'])['status']


def migrate(hv1, hv2, new_flavor=None):
    """start (source), prep (dest), migrate (source); returns the migration."""
    migration = fakes.start_move(hv1, hv2, UUID, new_flavor)
    changed, _free = fakes.migration_dest(hv2).prep(migration)
    assert changed
    fakes.migration_source(hv1).migrate(hv1.store.load(UUID), hv1.migrations.load(migration['id']),
                                        shutdown_timeout=5)
    return migration


def finish(hv2, migration):
    return fakes.migration_dest(hv2).finish(hv2.store.load(UUID), hv2.migrations.load(migration['id']),
                                            wait_timeout=5)


def test_start_and_prep_record_the_move_on_both_hosts(pair):
    hv1, hv2 = pair
    migration = fakes.start_move(hv1, hv2, UUID, BIGGER)
    assert migration['migration_type'] == 'resize' and not migration['same_host']
    assert status(hv1, migration) == ms.PRE_MIGRATING and hv2.migrations.load(migration['id']) is None
    record = hv1.store.load(UUID)
    assert (record.task_state, record.new_flavor['memory_mb'], record.system_metadata['old_vm_state']) == (
        'resize_prep', 128, 'active')

    changed, free = fakes.migration_dest(hv2).prep(migration)
    assert changed and free['memory_mb'] == 8192
    assert status(hv2, migration) == ms.PRE_MIGRATING and os.path.exists(hv2.paths.probe(migration['id']))
    assert hv2.migrations.claimed('hv2') == (128, migration['claim']['disk_bytes'])
    assert fakes.migration_dest(hv2).prep(migration)[0] is False       # run again: nothing new


def test_migrate_powers_off_sets_the_copy_aside_and_hands_the_record_over(pair):
    hv1, hv2 = pair
    migration = migrate(hv1, hv2, BIGGER)

    # source: the copy set aside, the domain off but kept, the record handed over
    assert files(hv1.paths, UUID) is None
    assert files(hv1.paths, UUID + '_resize') == ['disk', 'disk.info', 'libvirt.xml']
    assert hv1.host.guest_by_uuid(UUID).power_state() == fakes.OFF
    source_record = hv1.store.load(UUID)
    assert (source_record.host, source_record.task_state, source_record.power_state) == (
        'hv2', 'resize_migrated', 'shutdown')
    assert status(hv1, migration) == ms.POST_MIGRATING
    # destination: the disks, the base image, the record and the migration arrived
    assert files(hv2.paths, UUID) == ['disk', 'disk.info']
    base = os.path.basename(backing_of(hv1.paths.instance_file(UUID + '_resize', 'disk'))[0])
    assert files(hv2.paths, '_base') == [base, base + '.json']
    dest_record = hv2.store.load(UUID)
    assert (dest_record.host, dest_record.task_state, dest_record.migration['id']) == (
        'hv2', 'resize_migrated', migration['id'])
    assert status(hv2, migration) == ms.POST_MIGRATING
    assert hv2.host.domains == {}
    steps = [e['event'] for e in hv1.store.actions(UUID).entries() if e['action'] == 'compute_resize_instance']
    assert steps[0] == 'start' and 'power_off' in steps and 'copy' in steps and steps[-1] == 'finish'


def test_finish_rebases_grows_and_starts_the_guest_on_the_destination(pair):
    hv1, hv2 = pair
    migration = migrate(hv1, hv2, BIGGER)
    assert finish(hv2, migration) is True

    root = hv2.paths.instance_file(UUID, 'disk')
    backing, _fmt = backing_of(root)
    assert backing == hv2.paths.base_image(os.path.basename(backing))       # this host's cache, not hv1's
    assert virtual_size(root, 'qcow2') == 2 * GiB
    assert os.path.getsize(hv2.paths.instance_file(UUID, 'disk.swap')) == 8 * 1024 * 1024
    guest = hv2.host.guest_by_uuid(UUID)
    assert guest.is_running() and guest.config().memory_kib == 128 * 1024
    assert guest.config(inactive=True).instance.host == 'hv2'
    record = hv2.store.load(UUID)
    assert (record.vm_state, record.task_state, record.power_state) == ('resized', None, 'running')
    assert record.flavor['root_gb'] == 2 and record.old_flavor['root_gb'] == 1
    assert status(hv2, migration) == ms.FINISHED and not os.path.exists(hv2.paths.probe(migration['id']))
    assert finish(hv2, migration) is False                                   # run again: nothing to do


def test_confirm_on_both_sides_drops_the_source_copy_and_its_domain(pair):
    hv1, hv2 = pair
    migration = migrate(hv1, hv2, BIGGER)
    finish(hv2, migration)
    source = fakes.migration_source(hv1)
    with pytest.raises(MigrationError, match='not confirmed on the destination'):
        source.confirm(hv1.store.load(UUID), hv1.migrations.load(migration['id']))
    assert files(hv1.paths, UUID + '_resize') is not None           # refused: nothing removed

    assert fakes.migration_dest(hv2).confirm(hv2.store.load(UUID), hv2.migrations.load(migration['id']))
    record = hv2.store.load(UUID)
    assert (record.vm_state, record.task_state, record.old_flavor) == ('active', None, None)
    assert 'old_vm_state' not in record.system_metadata
    assert status(hv2, migration) == ms.CONFIRMED and hv2.migrations.claimed('hv2') == (0, 0)

    assert source.confirm(hv1.store.load(UUID), hv1.migrations.load(migration['id']),
                          reported_status=ms.CONFIRMED)
    assert files(hv1.paths, UUID + '_resize') is None and files(hv1.paths, UUID) is None
    assert hv1.host.domains == {}
    assert status(hv1, migration) == ms.CONFIRMED
    left = hv1.store.load(UUID)
    assert (left.host, left.task_state) == ('hv2', None)
    assert hv2.host.guest_by_uuid(UUID).is_running()
    assert source.confirm(hv1.store.load(UUID), hv1.migrations.load(migration['id']),
                          reported_status=ms.CONFIRMED) is False


def test_revert_after_finish_brings_the_instance_back_with_its_old_flavor(pair):
    hv1, hv2 = pair
    migration = migrate(hv1, hv2, BIGGER)
    finish(hv2, migration)

    assert fakes.migration_dest(hv2).revert(hv2.store.load(UUID), hv2.migrations.load(migration['id']))
    assert hv2.host.domains == {} and files(hv2.paths, UUID) is None
    handed_back = hv2.store.load(UUID)
    assert (handed_back.host, handed_back.task_state, handed_back.power_state) == ('hv1', None, 'nostate')
    assert status(hv2, migration) == ms.REVERTED and hv2.migrations.claimed('hv2') == (0, 0)

    assert fakes.migration_source(hv1).revert(hv1.store.load(UUID), hv1.migrations.load(migration['id']),
                                              wait_timeout=5)
    assert files(hv1.paths, UUID + '_resize') is None
    assert files(hv1.paths, UUID) == ['disk', 'disk.info', 'libvirt.xml']
    record = hv1.store.load(UUID)
    assert (record.host, record.vm_state, record.task_state, record.power_state) == (
        'hv1', 'active', None, 'running')
    assert record.flavor['root_gb'] == 1 and record.new_flavor is None
    assert virtual_size(hv1.paths.instance_file(UUID, 'disk'), 'qcow2') == GiB
    guest = hv1.host.guest_by_uuid(UUID)
    assert guest.is_running() and guest.config().memory_kib == 64 * 1024
    assert status(hv1, migration) == ms.REVERTED
    # both sides run again: nothing changes
    assert fakes.migration_dest(hv2).revert(hv2.store.load(UUID), hv2.migrations.load(migration['id'])) is False
    assert fakes.migration_source(hv1).revert(hv1.store.load(UUID), hv1.migrations.load(migration['id'])) is False


def test_a_stopped_instance_moves_and_stays_stopped(tmp_path, monkeypatch):
    fakes.install_clock(monkeypatch)
    fakes.local_transfer(monkeypatch)
    hv1, hv2 = fakes.host_pair(tmp_path)
    fakes.build(hv1, UUID, power_on=False)
    migration = migrate(hv1, hv2)                       # a migration: same flavor
    assert migration['migration_type'] == 'migration'
    finish(hv2, migration)
    assert hv2.host.guest_by_uuid(UUID).power_state() == fakes.OFF
    fakes.migration_dest(hv2).confirm(hv2.store.load(UUID), hv2.migrations.load(migration['id']))
    record = hv2.store.load(UUID)
    assert (record.vm_state, record.power_state) == ('stopped', 'shutdown')


def test_a_copy_that_breaks_puts_the_instance_back_as_it_was(pair, monkeypatch):
    hv1, hv2 = pair
    broken = [sys.executable, '-c', 'import sys; sys.stderr.write("link down"); sys.exit(3)']
    monkeypatch.setattr(fakes.LocalTarget, 'receiver', lambda self, root: broken)
    migration = fakes.start_move(hv1, hv2, UUID, BIGGER)
    fakes.migration_dest(hv2).prep(migration)
    with pytest.raises(TransferError) as caught:
        fakes.migration_source(hv1).migrate(hv1.store.load(UUID), hv1.migrations.load(migration['id']),
                                            shutdown_timeout=5)
    assert caught.value.step == 'copy disks'
    assert files(hv1.paths, UUID) == ['disk', 'disk.info', 'libvirt.xml'] and files(hv1.paths, UUID + '_resize') is None
    record = hv1.store.load(UUID)
    assert (record.host, record.vm_state, record.task_state, record.power_state) == (
        'hv1', 'active', None, 'running')
    assert hv1.host.guest_by_uuid(UUID).is_running()
    assert status(hv1, migration) == ms.ERROR and record.migration['status'] == ms.ERROR
    assert hv2.store.load(UUID) is None


def test_same_host_resize_then_confirm(tmp_path, monkeypatch):
    fakes.install_clock(monkeypatch)
    hv = fakes.hypervisor(tmp_path / 'instances')
    fakes.build(hv, UUID)
    migration = fakes.start_move(hv, hv, UUID, BIGGER)
    assert migration['same_host'] and migration['dest_instances_path'] == hv.paths.root
    fakes.migration_dest(hv).prep(migration)
    result = fakes.migration_source(hv).migrate(hv.store.load(UUID), hv.migrations.load(migration['id']),
                                                shutdown_timeout=5)
    assert result['shared_storage'] is True
    assert [f['name'] for f in result['files']] == ['%s/disk' % UUID, '%s/disk.info' % UUID]
    assert files(hv.paths, UUID) == ['disk', 'disk.info'] and files(hv.paths, UUID + '_resize') is not None
    finish(hv, migration)
    guest = hv.host.guest_by_uuid(UUID)
    assert guest.is_running() and guest.config().memory_kib == 128 * 1024
    dest, source = fakes.migration_dest(hv), fakes.migration_source(hv)
    dest.confirm(hv.store.load(UUID), hv.migrations.load(migration['id']))
    source.confirm(hv.store.load(UUID), hv.migrations.load(migration['id']))
    assert files(hv.paths, UUID + '_resize') is None and hv.host.guest_by_uuid(UUID).is_running()
    record = hv.store.load(UUID)
    assert (record.host, record.vm_state, record.flavor['memory_mb']) == ('hv1', 'active', 128)
    assert status(hv, migration) == ms.CONFIRMED


def test_same_host_resize_then_revert(tmp_path, monkeypatch):
    fakes.install_clock(monkeypatch)
    hv = fakes.hypervisor(tmp_path / 'instances')
    fakes.build(hv, UUID)
    migration = fakes.start_move(hv, hv, UUID, BIGGER)
    fakes.migration_dest(hv).prep(migration)
    fakes.migration_source(hv).migrate(hv.store.load(UUID), hv.migrations.load(migration['id']), shutdown_timeout=5)
    finish(hv, migration)
    assert fakes.migration_dest(hv).revert(hv.store.load(UUID), hv.migrations.load(migration['id']))
    assert status(hv, migration) == ms.REVERTING and not os.path.exists(hv.paths.probe(migration['id']))
    fakes.migration_source(hv).revert(hv.store.load(UUID), hv.migrations.load(migration['id']), wait_timeout=5)
    assert files(hv.paths, UUID + '_resize') is None
    assert virtual_size(hv.paths.instance_file(UUID, 'disk'), 'qcow2') == GiB
    assert not os.path.exists(hv.paths.instance_file(UUID, 'disk.swap'))
    record = hv.store.load(UUID)
    assert (record.vm_state, record.task_state, record.flavor['memory_mb']) == ('active', None, 64)
    guest = hv.host.guest_by_uuid(UUID)
    assert guest.is_running() and guest.config().memory_kib == 64 * 1024
    assert status(hv, migration) == ms.REVERTED
