# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reconciler end to end on a fake hypervisor: instances built by the real
Spawner, then left as an interrupted operation or a changed domain would
leave them; plan() and run_all() as state_reconcile runs them, and what the
records, domains and files are afterwards. (The tables themselves are in
test_reconcile_policy and test_fleet_policy.)"""

from __future__ import annotations

import os

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.reconcile import run_all
from ansible_collections.novalite.compute.tests.unit import fakes

UUID = '55555555-aaaa-4bbb-8ccc-000000000001'
OTHER = '55555555-aaaa-4bbb-8ccc-000000000002'


@pytest.fixture
def hv(tmp_path, monkeypatch):
    fakes.install_clock(monkeypatch)
    return fakes.hypervisor(tmp_path / 'instances')


def leave(hv, uuid, **fields):
    """Change the saved record as an interrupted operation would have left it."""
    record = hv.store.load(uuid)
    for field, value in fields.items():
        setattr(record, field, value)
    hv.store.save(record)


def reconcile(hv, mode='both', resume=False):
    """plan + run_all as the state_reconcile module does; returns
    ({uuid: [action kinds planned]}, results, errors, orphans)."""
    reconciler = fakes.reconciler(hv, resume=resume, shutdown_timeout=30, wait_timeout=5)
    entries, orphans = reconciler.plan(mode, hv.store.list())
    planned = dict((e['uuid'], [a.kind for a in e['actions']]) for e in entries)
    results, errors = run_all(reconciler, entries, mode)
    return planned, results, errors, orphans


def test_an_interrupted_soft_reboot_is_done_again(hv):
    fakes.build(hv, UUID)
    guest = hv.host.guest_by_uuid(UUID)
    first_id = guest.id
    leave(hv, UUID, task_state='reboot_pending')
    planned, results, errors, _orphans = reconcile(hv)
    assert planned[UUID] == ['reboot'] and errors == 0
    assert results[0]['done'][0]['type'] == 'soft'
    assert guest.calls == ['launch', 'shutdown', 'launch'] and guest.id not in (-1, first_id)
    record = hv.store.load(UUID)
    assert (record.vm_state, record.task_state, record.power_state) == ('active', None, 'running')
    log = fakes.events(hv.store, UUID)
    assert ('reconcile', 'reboot') in log and ('reboot', 'soft_reboot') in log and log[-1] == ('reboot', 'finish')


def test_an_interrupted_hard_reboot_of_a_guest_left_off_is_a_hard_reboot(hv):
    fakes.build(hv, UUID)
    guest = hv.host.guest_by_uuid(UUID)
    guest.destroy()
    leave(hv, UUID, task_state='reboot_started_hard')
    planned, results, _errors, _orphans = reconcile(hv)
    assert planned[UUID] == ['reboot'] and results[0]['done'][0]['type'] == 'hard'
    guest = hv.host.guest_by_uuid(UUID)
    assert guest.is_running()
    assert hv.store.load(UUID).task_state is None


def test_a_vanished_domain_is_recorded_as_nostate_and_left_alone(hv):
    fakes.build(hv, UUID)
    guest = hv.host.guest_by_uuid(UUID)
    guest.destroy()
    guest.undefine()
    planned, _results, errors, _orphans = reconcile(hv)
    assert planned[UUID] == ['record_power_state', 'note'] and errors == 0
    record = hv.store.load(UUID)
    assert (record.vm_state, record.power_state) == ('active', 'nostate')
    assert hv.host.domains == {}


def test_a_vanished_domain_is_defined_and_started_again_with_resume(hv):
    fakes.build(hv, UUID, flavor=dict(fakes.FLAVOR, swap_mb=8))
    guest = hv.host.guest_by_uuid(UUID)
    guest.destroy()
    guest.undefine()
    os.unlink(hv.paths.instance_file(UUID, 'disk.swap'))
    planned, _results, errors, _orphans = reconcile(hv, resume=True)
    assert planned[UUID] == ['resume'] and errors == 0
    assert hv.host.guest_by_uuid(UUID).is_running()
    assert os.path.exists(hv.paths.instance_file(UUID, 'disk.swap'))
    repair = [e for e in hv.store.actions(UUID).entries() if e['event'] == 'repair']
    assert repair[0]['recreated'] == ['domain definition', 'disk.swap']
    record = hv.store.load(UUID)
    assert (record.vm_state, record.task_state, record.power_state) == ('active', None, 'running')


def test_power_sync_follows_libvirt_both_ways(hv):
    fakes.build(hv, UUID)
    fakes.build(hv, OTHER, name='web2', power_on=False)
    hv.host.guest_by_uuid(UUID).power_off_inside()         # active, but the guest powered off
    hv.host.guest_by_uuid(OTHER).start_behind_our_back()   # stopped, but someone started it
    planned, _results, errors, _orphans = reconcile(hv, mode='sync')
    assert planned == {UUID: ['record_power_state', 'sync_stop'], OTHER: ['record_power_state', 'force_stop']}
    assert errors == 0
    first, second = hv.store.load(UUID), hv.store.load(OTHER)
    assert (first.vm_state, first.power_state) == ('stopped', 'shutdown')
    assert (second.vm_state, second.power_state) == ('stopped', 'shutdown')
    assert hv.host.guest_by_uuid(OTHER).power_state() == fakes.OFF
    assert reconcile(hv, mode='sync')[0] == {UUID: [], OTHER: []}           # nothing left to do


def test_an_interrupted_power_off_and_power_on_are_completed(hv):
    fakes.build(hv, UUID)
    fakes.build(hv, OTHER, name='web2', power_on=False)
    leave(hv, UUID, task_state='powering-off')
    leave(hv, OTHER, task_state='powering-on')
    planned, _results, errors, _orphans = reconcile(hv)
    assert planned == {UUID: ['stop'], OTHER: ['start']} and errors == 0
    assert (hv.store.load(UUID).vm_state, hv.store.load(OTHER).vm_state) == ('stopped', 'active')
    assert hv.host.guest_by_uuid(UUID).power_state() == fakes.OFF and hv.host.guest_by_uuid(OTHER).is_running()


def test_an_interrupted_deletion_and_an_interrupted_build(hv):
    fakes.build(hv, UUID)
    fakes.build(hv, OTHER, name='web2')
    leave(hv, UUID, task_state='deleting')
    leave(hv, OTHER, vm_state='building', task_state='spawning')
    planned, _results, errors, _orphans = reconcile(hv)
    assert planned == {UUID: ['finish_deletion'], OTHER: ['set_error']} and errors == 0
    deleted = hv.store.load(UUID)
    assert deleted.vm_state == 'deleted' and UUID not in hv.host.domains
    assert not os.path.exists(hv.paths.instance_dir(UUID))
    failed = hv.store.load(OTHER)
    assert (failed.vm_state, failed.task_state, failed.fault['step']) == ('error', None, 'reconcile')


def test_a_foreign_domain_with_a_records_uuid_is_never_touched(hv):
    fakes.build(hv, UUID)
    hv.host.guest_by_uuid(UUID).destroy()
    del hv.host.domains[UUID]
    foreign = hv.host.add_foreign(UUID, 'theirs', owner='hv9')
    planned, results, _errors, _orphans = reconcile(hv)
    assert planned[UUID] == ['note'] and results == []
    assert foreign.calls == [] and foreign.is_running()


def test_orphans_and_leftovers(hv):
    fakes.build(hv, UUID)
    fakes.build(hv, OTHER, name='web2')
    os.unlink(hv.paths.record(OTHER))                      # a domain of ours without a record
    tmp = hv.paths.instance_file(UUID, 'libvirt.xml.tmp')
    with open(tmp, 'w') as handle:
        handle.write('<domain')
    planned, _results, errors, orphans = reconcile(hv)
    assert orphans == [{'uuid': OTHER, 'name': 'web2', 'power_state': 'running'}]
    assert planned == {UUID: ['remove_leftovers']} and errors == 0
    assert not os.path.exists(tmp) and os.path.exists(hv.paths.xml(UUID))
    assert hv.host.guest_by_uuid(OTHER).is_running()       # an orphan is reported, not removed


def test_one_failing_instance_is_reported_and_the_others_go_on(hv):
    fakes.build(hv, UUID)
    fakes.build(hv, OTHER, name='web2')
    leave(hv, UUID, task_state='powering-off')
    leave(hv, OTHER, task_state='powering-off')
    hv.host.fail('sending', guest=hv.host.guest_by_uuid(UUID))     # its ACPI shutdown fails
    _planned, results, errors, _orphans = reconcile(hv)
    assert errors == 1
    by_uuid = dict((r['uuid'], r) for r in results)
    assert by_uuid[UUID]['error_class'] == 'HypervisorError' and 'injected failure' in by_uuid[UUID]['error']
    assert [a['action'] for a in by_uuid[OTHER]['done']] == ['stop']
    assert hv.store.load(OTHER).vm_state == 'stopped'
    assert (hv.store.load(UUID).vm_state, hv.store.load(UUID).task_state) == ('active', None)


def test_a_move_cut_short_while_copying_is_rolled_back_on_the_source(hv, monkeypatch):
    fakes.local_transfer(monkeypatch)
    fakes.build(hv, UUID)
    hv2 = fakes.hypervisor(os.path.join(os.path.dirname(hv.paths.root), 'b'), this_host='hv2')
    migration = fakes.start_move(hv, hv2, UUID, dict(fakes.FLAVOR, memory_mb=128))
    fakes.migration_dest(hv2).prep(migration)
    # what the migrate step leaves when it dies after setting the copy aside
    hv.host.guest_by_uuid(UUID).destroy()
    os.rename(hv.paths.instance_dir(UUID), hv.paths.resize_dir(UUID))
    hv.migrations.save(hv.migrations.load(migration['id']), ms.MIGRATING)
    leave(hv, UUID, task_state='resize_migrating')
    planned, _results, errors, _orphans = reconcile(hv)
    assert planned[UUID] == ['revert_migration'] and errors == 0
    assert os.path.isdir(hv.paths.instance_dir(UUID)) and not os.path.exists(hv.paths.resize_dir(UUID))
    record = hv.store.load(UUID)
    assert (record.host, record.vm_state, record.task_state, record.power_state) == ('hv1', 'active', None, 'running')
    assert record.flavor['memory_mb'] == 64 and hv.host.guest_by_uuid(UUID).is_running()
    assert hv.migrations.load(migration['id'])['status'] == ms.ERROR
