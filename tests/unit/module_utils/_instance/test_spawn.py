# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Spawner on a fake hypervisor with the real record store and real disk
files: the task states in Nova's order, the disks, the domain defined from
the generated XML and started; a failing step cleans up what the build made
and records the fault (test_spawn_failure covers an exception that is not
the collection's own)."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import (
    DomainNotManaged,
    HypervisorError,
    ImageUnacceptable,
    NovaliteError,
)
from ansible_collections.novalite.compute.plugins.module_utils._storage.disks import backing_of
from ansible_collections.novalite.compute.plugins.module_utils._store.records import ANY
from ansible_collections.novalite.compute.tests.unit import fakes

UUID = '11111111-aaaa-4bbb-8ccc-000000000001'
OTHER = '11111111-aaaa-4bbb-8ccc-000000000002'


@pytest.fixture
def hv(tmp_path, monkeypatch):
    fakes.install_clock(monkeypatch)
    return fakes.hypervisor(tmp_path / 'instances', image_cache=fakes.ImageCacheFactory())


def saved_task_states(store, monkeypatch):
    """The task_state of every save, in order."""
    saved = []
    real_save = store.save

    def recording_save(rec, expected_task_state=ANY):
        result = real_save(rec, expected_task_state=expected_task_state)
        saved.append((rec.vm_state, rec.task_state))
        return result
    monkeypatch.setattr(store, 'save', recording_save)
    return saved


def test_a_build_saves_nova_task_states_and_ends_active_and_running(hv, monkeypatch):
    saved = saved_task_states(hv.store, monkeypatch)
    record = fakes.record(UUID, flavor=dict(fakes.FLAVOR, swap_mb=8), config_drive=True)
    fakes.spawner(hv).spawn(record, power_on=True, wait_timeout=5)

    states_seen = []
    for entry in saved:
        if not states_seen or states_seen[-1] != entry:
            states_seen.append(entry)
    assert states_seen == [('building', 'scheduling'), ('building', 'networking'),
                           ('building', 'block_device_mapping'), ('building', 'spawning'), ('active', None)]
    after = hv.store.load(UUID)
    assert (after.vm_state, after.task_state, after.power_state) == ('active', None, 'running')
    assert after.launched_at is not None and after.fault is None
    assert after.networks[0]['mac'].startswith('fa:16:3e:')        # allocated and saved


def test_a_build_creates_the_disks_the_xml_and_a_running_domain_of_ours(hv):
    record = fakes.record(UUID, flavor=dict(fakes.FLAVOR, swap_mb=8), config_drive=True,
                          metadata={'role': 'web'})
    fakes.spawner(hv).spawn(record, power_on=True, wait_timeout=5)
    paths = hv.paths
    names = sorted(n for n in os.listdir(paths.instance_dir(UUID)) if not n.startswith('.'))
    assert names == ['disk', 'disk.config', 'disk.info', 'disk.swap', 'libvirt.xml']
    backing, backing_format = backing_of(paths.instance_file(UUID, 'disk'))
    assert backing == paths.base_image(os.path.basename(backing)) and backing_format == 'qcow2'
    with open(paths.instance_file(UUID, 'disk.info')) as handle:
        assert json.load(handle) == {paths.instance_file(UUID, 'disk'): 'qcow2',
                                     paths.instance_file(UUID, 'disk.swap'): 'raw'}

    guest = hv.host.guest_by_uuid(UUID)          # ours, for this host: not refused
    assert guest.is_running() and guest.id > 0 and guest.is_persistent()
    assert guest.calls == ['launch']
    with open(paths.xml(UUID)) as handle:
        assert hv.host.defined == [handle.read()]
    meta = guest.config(inactive=True).instance
    assert meta.host == 'hv1' and meta.name == 'web1' and [(m.key, m.value) for m in meta.meta] == [('role', 'web')]
    assert [d.source_file for d in guest.config().disks] == [
        paths.instance_file(UUID, name) for name in ('disk', 'disk.swap', 'disk.config')]


def test_the_image_cache_is_asked_with_the_root_disk_as_size_cap_and_logged(hv):
    images = fakes.ImageCacheFactory()
    hv = fakes.hypervisor(hv.paths.root, image_cache=images)
    fakes.spawner(hv).spawn(fakes.record(UUID), wait_timeout=5)
    fakes.spawner(hv).spawn(fakes.record(OTHER, name='web2'), wait_timeout=5)
    assert [(c['fetched'], c['max_size'], c['force_raw']) for c in images.log] == [
        (True, 1024 ** 3, False), (False, 1024 ** 3, False)]
    caches = [e for e in hv.store.actions(UUID).entries() + hv.store.actions(OTHER).entries()
              if e['event'] == 'image_cache']
    assert [e['result'] for e in caches] == ['miss', 'hit']
    assert fakes.events(hv.store, UUID) == [('create', 'start'), ('create', 'fetch_progress'),
                                            ('create', 'image_cache'), ('create', 'finish')]


def test_power_on_false_defines_the_domain_without_starting_it(hv):
    fakes.spawner(hv).spawn(fakes.record(UUID), power_on=False, wait_timeout=5)
    after = hv.store.load(UUID)
    assert (after.vm_state, after.task_state, after.power_state) == ('stopped', None, 'shutdown')
    guest = hv.host.guest_by_uuid(UUID)
    assert guest.power_state() == fakes.OFF and guest.calls == [] and guest.id == -1


def _assert_cleaned_up(hv, step, vm_state='error'):
    assert not os.path.exists(hv.paths.instance_dir(UUID))
    after = hv.store.load(UUID)
    assert (after.vm_state, after.task_state, after.power_state) == (vm_state, None, 'nostate')
    assert after.fault['step'] == step and after.fault['action'] == 'create'
    assert fakes.events(hv.store, UUID)[-1] == ('create', 'error')
    return after


def test_a_failed_start_destroys_and_undefines_the_new_domain_and_removes_its_files(hv):
    hv.host.fail('starting')
    with pytest.raises(HypervisorError) as caught:
        fakes.spawner(hv).spawn(fakes.record(UUID), wait_timeout=5)
    assert caught.value.step == 'start domain' and caught.value.instance == 'web1 (%s)' % UUID
    _assert_cleaned_up(hv, 'start domain')
    assert hv.host.domains == {} and len(hv.host.defined) == 1


def test_a_guest_that_never_runs_times_out_and_is_removed(hv):
    hv.host.launch_state = fakes.PAUSED
    with pytest.raises(NovaliteError) as caught:
        fakes.spawner(hv).spawn(fakes.record(UUID), wait_timeout=5)
    assert type(caught.value).__name__ == 'WaitTimeout' and caught.value.step == 'wait for running'
    assert 'last seen paused' in caught.value.message
    _assert_cleaned_up(hv, 'wait for running')
    assert hv.host.domains == {}


def test_a_missing_network_fails_before_anything_is_created(hv):
    record = fakes.record(UUID, networks=[{'network': 'nowhere', 'mac': None}])
    with pytest.raises(HypervisorError) as caught:
        fakes.spawner(hv).spawn(record, wait_timeout=5)
    assert caught.value.step == 'networking' and 'libvirt error code 43' in caught.value.message
    _assert_cleaned_up(hv, 'networking')
    assert hv.host.defined == [] and os.listdir(hv.paths.base_dir) == []


def test_an_image_larger_than_the_root_disk_is_refused_at_fetch_image(hv):
    images = fakes.ImageCacheFactory(virtual_size=2 * 1024 ** 3)
    hv = fakes.hypervisor(hv.paths.root, image_cache=images)
    with pytest.raises(ImageUnacceptable) as caught:
        fakes.spawner(hv).spawn(fakes.record(UUID), wait_timeout=5)
    assert caught.value.step == 'fetch image'
    _assert_cleaned_up(hv, 'fetch image')


def test_a_uuid_held_by_a_foreign_domain_is_refused_and_the_foreign_domain_left_alone(hv):
    foreign = hv.host.add_foreign(UUID, 'theirs')
    with pytest.raises(DomainNotManaged) as caught:
        fakes.spawner(hv).spawn(fakes.record(UUID), wait_timeout=5)
    # refused by the lookup inside define (the step the error names), before libvirt is asked to define
    assert caught.value.step == 'look up domain' and 'not managed by novalite.compute' in caught.value.message
    _assert_cleaned_up(hv, 'look up domain')
    assert hv.host.defined == []
    assert hv.host.domains == {UUID: foreign} and foreign.state == fakes.R and foreign.calls == []


def test_a_leftover_directory_of_a_build_that_never_launched_is_replaced(hv):
    os.makedirs(hv.paths.instance_dir(UUID))
    with open(hv.paths.instance_file(UUID, 'stale'), 'w') as handle:
        handle.write('half a build')
    fakes.spawner(hv).spawn(fakes.record(UUID), wait_timeout=5)
    assert 'stale' not in os.listdir(hv.paths.instance_dir(UUID))
    assert hv.store.load(UUID).vm_state == 'active'


def test_the_directory_of_an_instance_that_once_launched_is_never_replaced(hv):
    os.makedirs(hv.paths.instance_dir(UUID))
    with open(hv.paths.instance_file(UUID, 'disk'), 'w') as handle:
        handle.write('guest data')
    record = fakes.record(UUID, launched_at='2026-01-01T00:00:00.000000Z')
    with pytest.raises(NovaliteError) as caught:
        fakes.spawner(hv).spawn(record, wait_timeout=5)
    assert caught.value.step == 'create disks' and 'already exists' in caught.value.message
    with open(hv.paths.instance_file(UUID, 'disk')) as handle:
        assert handle.read() == 'guest data'
