"""A spawn that fails with an exception that is not the collection's own
(here lxml refusing a string XML cannot hold, validation bypassed) is cleaned
up like any other failed build: no instance directory, no domain, the record
in vm_state error with the fault, and a new build of it is allowed."""

import os

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import NovaliteError
from ansible_collections.novalite.compute.plugins.module_utils._instance import spawn as _spawn
from ansible_collections.novalite.compute.plugins.module_utils._instance.policy import plan
from ansible_collections.novalite.compute.plugins.module_utils._instance.spawn import Spawner
from ansible_collections.novalite.compute.plugins.module_utils._module.hypervisor import Hypervisor
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_cache import CachedImage
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import InstancePaths
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord, RecordStore

UUID = '9c1d2e3f-4444-4d4d-8e8e-0123456789ab'


class FakeHost(object):
    def __init__(self):
        self.defined = []

    def check_virt_type(self, virt_type):
        pass

    def check_network(self, network):
        pass

    def define(self, xml):
        self.defined.append(xml)
        raise AssertionError('a domain was defined from XML that cannot exist')


class FakeImages(object):
    def __init__(self, base_dir):
        self.base = CachedImage(os.path.join(base_dir, 'base'), 'qcow2', 1024 ** 2, 'base', fetched=True)

    def get(self, image, max_size=None, progress=None):
        return self.base


def _fake_root(target, base, root_gb, use_cow=True):
    with open(target, 'wb') as handle:
        handle.write(b'overlay')
    return 'qcow2'


@pytest.fixture
def spawner(tmp_path, monkeypatch):
    monkeypatch.setattr(_spawn._disks, 'create_root', _fake_root)
    paths = InstancePaths(str(tmp_path))
    paths.ensure_layout()
    store = RecordStore(paths, lock_timeout=1)
    host = FakeHost()
    hv = Hypervisor(host, paths, store, 'hv1', image_cache=lambda paths, **_kw: FakeImages(paths.base_dir))
    return Spawner(hv), host, store, paths


def test_unexpected_exception_in_spawn_cleans_up_and_records_the_fault(spawner):
    spawner, host, store, paths = spawner
    record = InstanceRecord({
        'uuid': UUID, 'name': 'web1', 'host': 'hv1', 'vm_state': 'building', 'virt_type': 'qemu',
        'flavor': {'vcpus': 1, 'memory_mb': 64, 'root_gb': 0, 'ephemeral_gb': 0, 'swap_mb': 0},
        'image': {'url': 'file:///img'}, 'networks': [{'network': 'default', 'mac': None, 'model': 'virtio'}],
        'metadata': {'bell': 'ring\x07'}, 'config_drive': False,
    })
    with pytest.raises(NovaliteError) as caught:
        spawner.spawn(record, power_on=True, wait_timeout=1)
    error = caught.value
    assert type(error).__name__ == 'InternalError' and isinstance(error.__cause__, ValueError)
    assert error.step == 'guest xml' and 'ValueError' in str(error)

    assert not os.path.exists(paths.instance_dir(UUID))         # disks and directory removed
    assert host.defined == []
    saved = store.load(UUID)
    assert (saved.vm_state, saved.task_state, saved.power_state) == ('error', None, 'nostate')
    assert saved.fault['step'] == 'guest xml' and 'ValueError' in saved.fault['message']
    events = [(e['event'], e.get('step')) for e in store.actions(UUID).entries()]
    assert events[0] == ('start', None) and events[-1] == ('error', 'guest xml')
    # the failed build never launched: running the task again builds it again
    desired = {'name': 'web1', 'state': 'running', 'locked': None,
               'flavor': record.flavor, 'image': record.image}
    assert [step.name for step in plan(desired, saved, {'defined': False, 'power_state': None})] == ['spawn']
