# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lifecycle on instances built by the real Spawner on a fake hypervisor:
clean stop or destroy after the timeout (on a fake clock), start, delete
(files gone, the record kept as deleted), redefine, lock/unlock, metadata,
in-place resize."""

from __future__ import annotations

import os

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import (
    DomainNotFound,
    HypervisorError,
    NovaliteError,
)
from ansible_collections.novalite.compute.plugins.module_utils._storage.disks import virtual_size
from ansible_collections.novalite.compute.tests.unit import fakes

UUID = '22222222-aaaa-4bbb-8ccc-000000000001'
GiB = 1024 ** 3


@pytest.fixture
def clock(monkeypatch):
    return fakes.install_clock(monkeypatch)


@pytest.fixture
def hv(tmp_path, clock):
    return fakes.hypervisor(tmp_path / 'instances')


def test_a_clean_stop_presses_the_button_once_and_records_stopped(hv, clock):
    record = fakes.build(hv, UUID)
    guest = hv.host.guest_by_uuid(UUID)
    guest.acpi_polls = 3                       # off on the fourth look
    assert fakes.lifecycle(hv).stop(record, shutdown_timeout=60) == 'acpi'
    assert guest.calls == ['launch', 'shutdown'] and guest.power_state() == fakes.OFF
    after = hv.store.load(UUID)
    assert (after.vm_state, after.task_state, after.power_state) == ('stopped', None, 'shutdown')
    stop_log = [e for e in hv.store.actions(UUID).entries() if e['action'] == 'stop']
    assert [(e['event'], e.get('method')) for e in stop_log] == [('start', None), ('power_off', 'acpi'),
                                                                 ('finish', None)]
    assert clock.slept < 1


def test_a_guest_ignoring_acpi_is_pressed_every_10s_then_destroyed_at_the_timeout(hv, clock):
    record = fakes.build(hv, UUID)
    guest = hv.host.guest_by_uuid(UUID)
    guest.acpi = 'ignore'
    began = clock.now
    assert fakes.lifecycle(hv).stop(record, shutdown_timeout=30) == 'destroy'
    assert guest.calls == ['launch', 'shutdown', 'shutdown', 'shutdown', 'destroy']
    assert clock.now - began == pytest.approx(30)
    after = hv.store.load(UUID)
    assert (after.vm_state, after.power_state) == ('stopped', 'shutdown') and guest.is_persistent()


def test_stopping_a_guest_already_off_touches_nothing(hv):
    record = fakes.build(hv, UUID, power_on=False)
    assert fakes.lifecycle(hv).stop(record) == 'already off'
    assert hv.host.guest_by_uuid(UUID).calls == []
    assert hv.store.load(UUID).vm_state == 'stopped'


def test_start_boots_a_new_domain_id_and_records_active(hv):
    record = fakes.build(hv, UUID)
    lifecycle = fakes.lifecycle(hv)
    guest = hv.host.guest_by_uuid(UUID)
    first_id = guest.id
    lifecycle.stop(record)
    lifecycle.start(hv.store.load(UUID), wait_timeout=5)
    assert guest.is_running() and guest.id not in (-1, first_id)
    after = hv.store.load(UUID)
    assert (after.vm_state, after.task_state, after.power_state) == ('active', None, 'running')
    # starting a running guest again does not call libvirt's start (it would refuse)
    lifecycle.start(after, wait_timeout=5)
    assert guest.calls.count('launch') == 2


def test_a_failed_start_clears_the_task_and_keeps_vm_state(hv):
    record = fakes.build(hv, UUID, power_on=False)
    hv.host.fail('starting')
    with pytest.raises(HypervisorError) as caught:
        fakes.lifecycle(hv).start(record, wait_timeout=5)
    assert caught.value.step == 'power on'
    after = hv.store.load(UUID)
    assert (after.vm_state, after.task_state, after.power_state) == ('stopped', None, 'shutdown')
    assert after.fault['action'] == 'start' and after.fault['step'] == 'power on'


def test_start_of_an_instance_whose_domain_is_gone_says_so(hv):
    record = fakes.build(hv, UUID, power_on=False)
    hv.host.guest_by_uuid(UUID).undefine()
    with pytest.raises(DomainNotFound):
        fakes.lifecycle(hv).start(record, wait_timeout=5)
    after = hv.store.load(UUID)
    assert (after.task_state, after.power_state) == (None, 'nostate')


def test_delete_removes_domain_and_files_and_keeps_a_deleted_record(hv):
    record = fakes.build(hv, UUID)
    guest = hv.host.guest_by_uuid(UUID)
    os.makedirs(hv.paths.resize_dir(UUID))              # a leftover source copy of a move
    fakes.lifecycle(hv).delete(record)
    assert hv.host.domains == {} and guest.calls[-2:] == ['destroy', 'undefine keep_nvram=False']
    assert not os.path.exists(hv.paths.instance_dir(UUID)) and not os.path.exists(hv.paths.resize_dir(UUID))
    after = hv.store.load(UUID)
    assert (after.vm_state, after.task_state, after.power_state) == ('deleted', None, 'nostate')
    assert after.deleted_at is not None
    assert fakes.events(hv.store, UUID)[-2:] == [('delete', 'start'), ('delete', 'finish')]
    assert os.path.exists(hv.paths.base_dir) and os.listdir(hv.paths.base_dir)    # the cache stays


def test_delete_of_a_record_whose_domain_is_gone_and_of_a_domain_without_record(hv):
    record = fakes.build(hv, UUID)
    guest = hv.host.guest_by_uuid(UUID)
    guest.destroy()
    guest.undefine()
    fakes.lifecycle(hv).delete(record)
    assert hv.store.load(UUID).vm_state == 'deleted'

    other = '22222222-aaaa-4bbb-8ccc-000000000002'
    orphan = fakes.build(hv, other, name='web2')
    os.unlink(hv.paths.record(other))
    assert fakes.lifecycle(hv).delete(None, hv.host.guest_by_uuid(other)) is None
    assert other not in hv.host.domains and not os.path.exists(hv.paths.instance_dir(orphan.uuid))


def test_redefine_puts_back_the_domain_from_the_record_and_needs_the_root_disk(hv):
    record = fakes.build(hv, UUID, power_on=False)
    hv.host.guest_by_uuid(UUID).undefine()              # behind our back
    fakes.lifecycle(hv).redefine(record)
    guest = hv.host.guest_by_uuid(UUID)
    assert guest.power_state() == fakes.OFF and guest.config().uuid == UUID
    assert hv.store.load(UUID).power_state == 'shutdown'

    guest.undefine()
    os.unlink(hv.paths.instance_file(UUID, 'disk'))
    with pytest.raises(NovaliteError, match='root disk .* is missing'):
        fakes.lifecycle(hv).redefine(hv.store.load(UUID))
    assert UUID not in hv.host.domains


def test_lock_and_unlock_are_saved_and_logged(hv):
    record = fakes.build(hv, UUID)
    lifecycle = fakes.lifecycle(hv)
    lifecycle.set_locked(record, True)
    assert hv.store.load(UUID).locked is True
    lifecycle.set_locked(hv.store.load(UUID), False)
    assert hv.store.load(UUID).locked is False
    assert fakes.events(hv.store, UUID)[-4:] == [('lock', 'start'), ('lock', 'finish'),
                                                 ('unlock', 'start'), ('unlock', 'finish')]


@pytest.mark.parametrize('power_on', [True, False])
def test_metadata_goes_to_the_record_the_xml_file_and_the_domain(hv, power_on):
    record = fakes.build(hv, UUID, power_on=power_on, metadata={'old': '1'})
    fakes.lifecycle(hv).update_metadata(record, {'role': 'db', 'tier': '2'})
    assert hv.store.load(UUID).metadata == {'role': 'db', 'tier': '2'}
    guest = hv.host.guest_by_uuid(UUID)
    assert guest.calls[-1] == 'set_metadata live=%s' % power_on
    for inactive in (True, False):
        meta = guest.config(inactive=inactive).instance
        assert [(m.key, m.value) for m in meta.meta] == [('role', 'db'), ('tier', '2')]
        assert meta.host == 'hv1'
    with open(hv.paths.xml(UUID)) as handle:
        assert 'tier' in handle.read()


def test_in_place_resize_grows_the_root_disk_adds_swap_and_redefines(hv):
    record = fakes.build(hv, UUID, power_on=False)
    bigger = dict(fakes.FLAVOR, memory_mb=128, root_gb=2, swap_mb=8)
    fakes.lifecycle(hv).resize(record, bigger)
    assert virtual_size(hv.paths.instance_file(UUID, 'disk'), 'qcow2') == 2 * GiB
    assert os.path.getsize(hv.paths.instance_file(UUID, 'disk.swap')) == 8 * 1024 * 1024
    after = hv.store.load(UUID)
    assert after.flavor == bigger and (after.task_state, after.old_flavor, after.new_flavor) == (None, None, None)
    config = hv.host.guest_by_uuid(UUID).config(inactive=True)
    assert config.memory_kib == 128 * 1024 and len(config.disks) == 2
