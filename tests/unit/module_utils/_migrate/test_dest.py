# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MigrationDest's refusals and its half-done cases on a fake hypervisor:
prep (wrong host, a name taken, capacity after other claims, a network
missing), finish before the hand-over or failing, revert of a copy that
never arrived."""

from __future__ import annotations

import os

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import HypervisorError, MigrationError
from ansible_collections.novalite.compute.tests.unit import fakes

UUID = '44444444-aaaa-4bbb-8ccc-000000000001'
BIGGER = dict(fakes.FLAVOR, memory_mb=128, root_gb=2)


@pytest.fixture
def pair(tmp_path, monkeypatch):
    fakes.install_clock(monkeypatch)
    fakes.local_transfer(monkeypatch)
    hv1, hv2 = fakes.host_pair(tmp_path)
    fakes.build(hv1, UUID)
    return hv1, hv2, fakes.start_move(hv1, hv2, UUID, BIGGER)


def test_prep_on_another_host_than_the_destination_is_refused(pair):
    hv1, _hv2, migration = pair
    with pytest.raises(MigrationError, match='this is host hv1; migration .* goes to hv2'):
        fakes.migration_dest(hv1).prep(migration)


def test_prep_refuses_a_name_taken_by_another_domain(pair):
    _hv1, hv2, migration = pair
    hv2.host.add_foreign('44444444-aaaa-4bbb-8ccc-00000000ffff', 'web1')
    with pytest.raises(MigrationError, match='a domain named web1 .* already exists on hv2'):
        fakes.migration_dest(hv2).prep(migration)
    assert hv2.migrations.load(migration['id']) is None and not os.path.exists(hv2.paths.probe(migration['id']))


def test_prep_counts_what_other_moves_in_flight_claimed(pair):
    _hv1, hv2, migration = pair
    hv2.host.memory_mb = 200
    other = dict(migration, id='44444444-aaaa-4bbb-8ccc-0000000000aa', instance_uuid='x', status=ms.FINISHED,
                 claim={'memory_mb': 100, 'disk_bytes': 0})
    hv2.migrations.save(other)
    with pytest.raises(MigrationError) as caught:
        fakes.migration_dest(hv2).prep(migration)
    assert 'not enough memory on hv2' in caught.value.message and caught.value.instance == 'web1 (%s)' % UUID
    hv2.migrations.save(other, ms.CONFIRMED)            # a confirmed move releases its claim
    assert fakes.migration_dest(hv2).prep(migration)[0] is True


def test_prep_refuses_a_network_missing_here(pair):
    _hv1, hv2, migration = pair
    hv2.host.networks = {}
    with pytest.raises(HypervisorError, match='libvirt network default'):
        fakes.migration_dest(hv2).prep(migration)


def test_finish_refuses_before_the_record_was_handed_over(pair):
    hv1, hv2, migration = pair
    fakes.migration_dest(hv2).prep(migration)
    record = hv1.store.load(UUID)
    with pytest.raises(MigrationError, match="'finish' needs post-migrating or finished"):
        fakes.migration_dest(hv2).finish(record, hv2.migrations.load(migration['id']))
    with pytest.raises(MigrationError, match='has not handed the instance over'):
        fakes.migration_dest(hv2).finish(record, dict(migration, status=ms.POST_MIGRATING))


def test_a_failed_finish_errors_the_instance_and_the_migration_and_revert_recovers(pair):
    hv1, hv2, migration = pair
    fakes.migration_dest(hv2).prep(migration)
    fakes.migration_source(hv1).migrate(hv1.store.load(UUID), hv1.migrations.load(migration['id']))
    hv2.host.fail('define')
    with pytest.raises(HypervisorError) as caught:
        fakes.migration_dest(hv2).finish(hv2.store.load(UUID), hv2.migrations.load(migration['id']))
    assert caught.value.step == 'define domain'
    record = hv2.store.load(UUID)
    assert (record.vm_state, record.task_state, record.migration['status']) == ('error', None, ms.ERROR)
    assert hv2.migrations.load(migration['id'])['status'] == ms.ERROR

    del hv2.host.failures['define']
    assert fakes.migration_dest(hv2).revert(record, hv2.migrations.load(migration['id']))
    assert hv2.store.load(UUID).host == 'hv1' and not os.path.isdir(hv2.paths.instance_dir(UUID))
    fakes.migration_source(hv1).revert(hv1.store.load(UUID), hv1.migrations.load(migration['id']), wait_timeout=5)
    record = hv1.store.load(UUID)
    assert (record.host, record.vm_state, record.task_state) == ('hv1', 'active', None)
    assert hv1.host.guest_by_uuid(UUID).is_running()


def test_revert_of_a_copy_that_never_arrived_removes_the_probe_and_releases_the_claim(pair):
    _hv1, hv2, migration = pair
    fakes.migration_dest(hv2).prep(migration)
    known = hv2.migrations.load(migration['id'])
    assert fakes.migration_dest(hv2).revert(None, known) is True
    assert not os.path.exists(hv2.paths.probe(migration['id']))
    assert hv2.migrations.load(migration['id'])['status'] == ms.REVERTED and hv2.migrations.claimed('hv2') == (0, 0)
    assert hv2.store.load(UUID) is None
    assert fakes.migration_dest(hv2).revert(None, hv2.migrations.load(migration['id'])) is False
