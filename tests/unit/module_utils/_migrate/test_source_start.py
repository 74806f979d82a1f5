"""instance_migrate step=start run again for a move already started (the
controller died after start; recovery may have cleared resize_prep): the
same migration is reused and its task state put back, so that migrate
accepts it (it refused with "task_state on disk is None, expected
resize_prep")."""

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._migrate.source import MigrationSource
from ansible_collections.novalite.compute.plugins.module_utils._module.hypervisor import Hypervisor
from ansible_collections.novalite.compute.plugins.module_utils._store.migrations import MigrationStore
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import InstancePaths
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord, RecordStore

UUID = '6a1d7c0e-5555-4666-8777-888899990000'
FLAVOR = {'vcpus': 1, 'memory_mb': 128, 'root_gb': 1, 'ephemeral_gb': 0, 'swap_mb': 0}


def setup(tmp_path):
    paths = InstancePaths(str(tmp_path))
    store, migrations = RecordStore(paths), MigrationStore(paths)
    store.save(InstanceRecord({'uuid': UUID, 'name': 'web1', 'host': 'hv1', 'vm_state': 'active',
                               'flavor': dict(FLAVOR)}))
    return store, migrations, MigrationSource(Hypervisor(None, paths, store, 'hv1', migrations=migrations))


def test_a_start_run_again_reuses_the_move_and_restores_resize_prep(tmp_path):
    store, migrations, source = setup(tmp_path)
    changed, first, _plan = source.start(store.load(UUID), 'hv2', None, {'ssh': {'host': 'hv2'}})
    assert changed and store.load(UUID).task_state == 'resize_prep'
    # what a recovery that only cleared the task state left
    record = store.load(UUID)
    record.task_state = None
    store.save(record)

    changed, again, _plan = source.start(store.load(UUID), 'hv2', None, {'ssh': {'host': 'hv2'}})
    assert changed and again['id'] == first['id']
    after = store.load(UUID)
    assert after.task_state == 'resize_prep' and after.migration['id'] == first['id']
    assert after.system_metadata['old_vm_state'] == 'active'
    # a third run changes nothing
    changed, _same, _plan = source.start(store.load(UUID), 'hv2', None, {'ssh': {'host': 'hv2'}})
    assert not changed
    assert [m['status'] for m in migrations.list()] == [ms.PRE_MIGRATING]


def test_a_move_closed_by_recovery_does_not_block_the_next(tmp_path):
    store, migrations, source = setup(tmp_path)
    _changed, first, _plan = source.start(store.load(UUID), 'hv2', None, {'ssh': {'host': 'hv2'}})
    migrations.save(migrations.load(first['id']), ms.ERROR)       # what recovery does
    record = store.load(UUID)
    record.task_state = None
    store.save(record)
    changed, second, _plan = source.start(store.load(UUID), 'hv2', None, {'ssh': {'host': 'hv2'}})
    assert changed and second['id'] != first['id']
