# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Evacuation on two fake hypervisors with real records, migrations and
disk files: hv1 dies with an instance, hv2 rebuilds it from hv1's record;
then hv1 comes back and the Reconciler, given both hosts' reports as the
playbook gives them, cleans hv1 up - or rolls an unfinished evacuation
back to it."""

from __future__ import annotations

import os

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import HypervisorError, NovaliteError
from ansible_collections.novalite.compute.plugins.module_utils._instance import evacuation_policy as policy
from ansible_collections.novalite.compute.plugins.module_utils._instance.evacuation import Evacuator, evacuated_record
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.reconcile import run_all
from ansible_collections.novalite.compute.tests.unit import fakes

UUID = '66666666-aaaa-4bbb-8ccc-000000000001'


@pytest.fixture
def pair(tmp_path, monkeypatch):
    fakes.install_clock(monkeypatch)
    dead, alive = fakes.host_pair(tmp_path)
    fakes.build(dead, UUID, networks=[{'network': 'default', 'mac': 'fa:16:3e:00:00:07', 'model': 'virtio'}],
                metadata={'role': 'web'}, config_drive=True)
    dead.host.guest_by_uuid(UUID).crash()          # fenced: its QEMU is gone
    return dead, alive


def evacuate(alive, known, source='hv1'):
    local = alive.store.load(known['uuid'])
    migration = alive.migrations.load(local.migration['id']) if local is not None and local.migration else None
    observed = {'root_disk': os.path.exists(os.path.join(alive.paths.instance_dir(known['uuid']), 'disk')),
                'instance_dir': os.path.isdir(alive.paths.instance_dir(known['uuid'])),
                'defined': alive.host.guest_by_uuid(known['uuid']) is not None, 'name_taken_by': None}
    plan = policy.destination_plan(known, local.to_dict() if local else None, migration, source, alive.this_host,
                                   observed)
    assert plan.acts, plan.reason
    base = known if local is None else dict(local.to_dict(), vm_state=local.system_metadata['old_vm_state'])
    record = evacuated_record(base, alive.this_host, True, source)
    return Evacuator(alive).evacuate(record, plan, source, power_on=True, wait_timeout=5)


def reconcile(*hvs):
    """One round of the playbook: every host's report, then each host."""
    reports = [fakes.reconciler(hv).report(hv.store.list()) for hv in hvs]
    planned = {}
    for hv in hvs:
        reconciler = fakes.reconciler(hv, wait_timeout=5)
        entries, _orphans = reconciler.plan('both', hv.store.list(), fleet=reports)
        planned[hv.this_host] = [a.kind for e in entries if e['uuid'] == UUID for a in e['actions']]
        _results, errors = run_all(reconciler, entries, 'both')
        assert errors == 0
    return planned


def test_evacuated_then_the_source_returns_and_is_cleaned_up(pair):
    dead, alive = pair
    known = dead.store.load(UUID).to_dict()
    record, migration = evacuate(alive, known)
    on_alive = alive.store.load(UUID)
    assert (on_alive.host, on_alive.vm_state, on_alive.task_state, on_alive.power_state) == \
        ('hv2', 'active', None, 'running')
    assert on_alive.networks[0]['mac'] == 'fa:16:3e:00:00:07' and on_alive.metadata == {'role': 'web'}
    assert on_alive.system_metadata['evacuated_from'] == 'hv1'
    assert alive.migrations.load(migration['id'])['status'] == 'done'
    assert os.path.exists(alive.paths.instance_file(UUID, 'disk.config'))
    assert record.launched_at is not None

    # running it again plans nothing
    local = alive.store.load(UUID)
    again = policy.destination_plan(known, local.to_dict(), alive.migrations.load(migration['id']), 'hv1', 'hv2',
                                    {'root_disk': True, 'instance_dir': True, 'defined': True})
    assert again.kind == 'done'

    first = reconcile(dead, alive)
    assert first == {'hv1': ['clean_evacuated'], 'hv2': []}
    assert dead.host.guest_by_uuid(UUID) is None
    assert not os.path.exists(dead.paths.instance_dir(UUID))
    assert dead.store.load(UUID).host == 'hv2'
    assert dead.migrations.load(migration['id'])['status'] == 'completed'
    second = reconcile(dead, alive)
    assert second['hv2'] == ['complete_evacuation']
    assert alive.migrations.load(migration['id'])['status'] == 'completed'
    third = reconcile(dead, alive)
    assert set(third['hv1']) == {'note'} and third['hv2'] == []          # only 'belongs to hv2'
    assert alive.host.guest_by_uuid(UUID).power_state().label == 'running'


def test_a_failed_evacuation_leaves_an_error_and_is_resumed(pair):
    dead, alive = pair
    known = dead.store.load(UUID).to_dict()
    alive.host.fail('starting')
    with pytest.raises(HypervisorError) as caught:
        evacuate(alive, known)
    assert caught.value.step == 'start domain'
    failed = alive.store.load(UUID)
    assert (failed.host, failed.vm_state, failed.task_state) == ('hv2', 'error', None)
    assert failed.fault['step'] == 'start domain'
    assert not os.path.exists(alive.paths.instance_dir(UUID)) and alive.host.guest_by_uuid(UUID) is None
    assert alive.migrations.load(failed.migration['id'])['status'] == 'accepted'

    alive.host.failures.clear()
    _record, migration = evacuate(alive, known)
    assert migration['id'] == failed.migration['id']          # the same evacuation, resumed
    assert alive.store.load(UUID).vm_state == 'active'


def test_the_source_back_before_the_evacuation_finished_keeps_everything(pair):
    dead, alive = pair
    known = dead.store.load(UUID).to_dict()
    alive.host.fail('starting')
    with pytest.raises(NovaliteError):
        evacuate(alive, known)
    planned = reconcile(dead, alive)
    assert planned['hv2'] == ['rollback_evacuation'] and planned['hv1'] == []
    handed_back = alive.store.load(UUID)
    assert (handed_back.host, handed_back.vm_state) == ('hv1', 'active')
    assert os.path.exists(dead.paths.instance_file(UUID, 'disk'))
    assert dead.store.load(UUID).host == 'hv1'
    second = reconcile(dead, alive)
    # hv1 is recovered as usual (its guest died with it: recorded stopped); hv2 only notes whose it is
    assert second['hv1'] == ['record_power_state', 'sync_stop'] and set(second['hv2']) == {'note'}


def test_a_claim_that_cannot_be_written_leaves_no_record(pair, monkeypatch):
    dead, alive = pair
    known = dead.store.load(UUID).to_dict()

    def full(*_args, **_kwargs):
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(alive.migrations, 'save', full)
    with pytest.raises(NovaliteError) as caught:
        evacuate(alive, known)
    assert caught.value.step == 'claim' and 'No space left' in caught.value.message
    assert alive.store.load(UUID) is None


def test_an_evacuated_guest_that_died_is_synced_while_its_copies_are_completed(pair):
    """The evacuation's part and the power sync in the same run: a second
    run must find nothing to do (the crash suite's power-loss variant)."""
    dead, alive = pair
    evacuate(alive, dead.store.load(UUID).to_dict())
    alive.host.guest_by_uuid(UUID).crash()
    first = reconcile(dead, alive)
    assert first['hv1'] == ['clean_evacuated'] and first['hv2'] == ['record_power_state', 'sync_stop']
    second = reconcile(dead, alive)
    assert second['hv2'] == ['complete_evacuation']
    assert alive.store.load(UUID).vm_state == 'stopped'
    third = reconcile(dead, alive)
    assert not [kind for kind in third['hv1'] + third['hv2'] if kind != 'note']
