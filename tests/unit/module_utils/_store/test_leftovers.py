"""Leftovers of interrupted writes: found, removed, and never a live
writer's file (its lock is held)."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.failpoints import ENVIRONMENT_VARIABLE
from ansible_collections.novalite.compute.plugins.module_utils._common.steps import STEPS, check_step
from ansible_collections.novalite.compute.plugins.module_utils._store import leftovers
from ansible_collections.novalite.compute.plugins.module_utils._store.locking import file_lock
from ansible_collections.novalite.compute.plugins.module_utils._store.operation import Operation
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import InstancePaths
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord, RecordStore

UUID = '3f0c6a52-1111-4222-8333-444455556666'


def touch(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as handle:
        handle.write('x')
    return path


@pytest.fixture
def paths(tmp_path):
    paths = InstancePaths(str(tmp_path / 'instances'))
    paths.ensure_layout()
    return paths


def test_every_kind_of_leftover_is_found_and_removed(paths):
    store = RecordStore(paths)
    store.save(InstanceRecord({'uuid': UUID, 'name': 'web1', 'host': 'hv1'}))
    stale = [touch(os.path.join(paths.records_dir, '.tmp-abc')),
             touch(os.path.join(paths.migrations_dir, '.tmp-def')),
             touch(os.path.join(paths.base_dir, 'cafe.part')),
             touch(os.path.join(paths.base_dir, 'cafe.converted')),
             touch(paths.probe('m-done')),
             touch(paths.abort_request('m-done')),
             touch(paths.actions('0f0f0f0f-1111-4222-8333-444455556666'))]
    kept = [touch(paths.probe('m-open')), touch(paths.abort_request('m-open')), touch(paths.base_dir + '/beef'), paths.record(UUID),
            touch(paths.actions(UUID))]
    assert sorted(leftovers.host_leftovers(paths, {'m-done'})) == sorted(stale)
    assert sorted(leftovers.remove_host_leftovers(paths, {'m-done'})) == sorted(stale)
    assert not any(os.path.exists(path) for path in stale)
    assert all(os.path.exists(path) for path in kept)
    assert leftovers.host_leftovers(paths, {'m-done'}) == []


def test_a_partial_image_being_fetched_is_kept(paths):
    part = touch(os.path.join(paths.base_dir, 'cafe.part'))
    with file_lock(paths.image_lock('cafe')):
        assert leftovers.remove_host_leftovers(paths, set()) == []
    assert os.path.exists(part)
    assert leftovers.remove_host_leftovers(paths, set()) == [part]


def test_an_action_log_of_a_build_in_progress_is_kept(paths):
    log = touch(paths.actions(UUID))
    with file_lock(paths.instance_lock(UUID)):
        assert leftovers.remove_host_leftovers(paths, set()) == []
    assert os.path.exists(log)


def test_temporary_files_of_live_writers_are_never_removed(paths):
    """A writer holding the directory's writers lock shared keeps its file;
    the cleanup waits for it."""
    script = textwrap.dedent('''
        import fcntl, os, sys, time
        fd = os.open(os.path.join(sys.argv[1], '.writers.lock'), os.O_RDWR | os.O_CREAT)
        fcntl.flock(fd, fcntl.LOCK_SH)
        open(os.path.join(sys.argv[1], '.tmp-live'), 'w').close()
        print('held', flush=True)
        time.sleep(1.0)
        os.rename(os.path.join(sys.argv[1], '.tmp-live'), os.path.join(sys.argv[1], 'done.json'))
    ''')
    writer = subprocess.Popen([sys.executable, '-c', script, paths.records_dir], stdout=subprocess.PIPE, text=True)
    assert writer.stdout.readline().strip() == 'held'
    assert leftovers.remove_host_leftovers(paths, set()) == []      # waited for the writer
    assert writer.wait() == 0
    assert os.path.exists(os.path.join(paths.records_dir, 'done.json'))


def test_instance_tmp_files(paths):
    tmp = touch(paths.instance_file(UUID, 'libvirt.xml.tmp'))
    touch(paths.instance_file(UUID, 'disk'))
    assert leftovers.instance_leftovers(paths, UUID) == [tmp]
    assert leftovers.remove_files([tmp]) == [tmp] and not os.path.exists(tmp)


def test_a_step_missing_from_the_registry_is_refused(paths):
    op = Operation(RecordStore(paths), InstanceRecord({'uuid': UUID, 'name': 'web1'}), 'create')
    op.step('scheduling')
    with pytest.raises(ValueError, match='not in _common.steps.STEPS'):
        op.step('a new step without a crash point')
    with pytest.raises(ValueError):
        check_step('no such action', 'scheduling')
    assert all(STEPS.values())


def test_the_failpoint_kills_its_process_only_at_its_step(paths):
    program = textwrap.dedent('''
        import sys
        sys.path.insert(0, sys.argv[2])
        from ansible_collections.novalite.compute.plugins.module_utils._store.operation import Operation
        from ansible_collections.novalite.compute.plugins.module_utils._store.paths import InstancePaths
        from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord, RecordStore
        op = Operation(RecordStore(InstancePaths(sys.argv[1])), InstanceRecord({'uuid': 'u', 'name': 'n'}), 'stop')
        op.step('power off')
        print('passed')
    ''')
    farm = [p for p in sys.path if p.endswith(os.path.join('build', 'collections'))][0]
    base = dict(os.environ)
    base.pop(ENVIRONMENT_VARIABLE, None)
    passed = subprocess.run([sys.executable, '-c', program, paths.root, farm], env=dict(
        base, **{ENVIRONMENT_VARIABLE: 'start:power on'}), capture_output=True, text=True, check=False)
    assert passed.returncode == 0 and passed.stdout.strip() == 'passed', passed.stderr
    killed = subprocess.run([sys.executable, '-c', program, paths.root, farm], env=dict(
        base, **{ENVIRONMENT_VARIABLE: 'stop:power off'}), capture_output=True, text=True, check=False)
    assert killed.returncode == -signal.SIGKILL and killed.stdout == ''


def test_a_sidecar_whose_image_never_arrived_is_removed(paths):
    orphan = touch(os.path.join(paths.base_dir, 'dead.json'))
    kept = touch(os.path.join(paths.base_dir, 'beef.json'))
    image = touch(os.path.join(paths.base_dir, 'beef'))
    assert leftovers.host_leftovers(paths, set()) == [orphan]
    with file_lock(paths.image_lock('dead')):          # a fetch about to rename its image into place
        assert leftovers.remove_host_leftovers(paths, set()) == []
    assert leftovers.remove_host_leftovers(paths, set()) == [orphan]
    assert os.path.exists(kept) and os.path.exists(image)
