"""Record store: crash-safe writes, expected_task_state, action log, locks."""

import hashlib
import json
import multiprocessing
import os
import time

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import (
    LockTimeout,
    RecordCorrupt,
    UnexpectedTaskState,
)
from ansible_collections.novalite.compute.plugins.module_utils._store import records as _records
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import InstancePaths
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord, RecordStore
from ansible_collections.novalite.compute.tests.unit import fakes

UUID = '3f2b0f0e-1111-4a4a-9b9b-0123456789ab'


@pytest.fixture
def store(tmp_path):
    return RecordStore(InstancePaths(str(tmp_path)), lock_timeout=0.5)


def test_save_and_load_roundtrip(store):
    store.save(InstanceRecord({'uuid': UUID, 'name': 'a', 'vm_state': 'active'}))
    loaded = store.load(UUID)
    assert loaded.name == 'a' and loaded.vm_state == 'active' and loaded.created_at
    assert oct(os.stat(store.paths.record(UUID)).st_mode & 0o777) == '0o600'
    assert store.find_by_name('a').uuid == UUID and store.find_by_name('b') is None


def test_crash_during_write_keeps_old_record(store, monkeypatch):
    store.save(InstanceRecord({'uuid': UUID, 'name': 'a', 'vm_state': 'active'}))

    def explode(*_args, **_kwargs):
        raise OSError('disk full')
    monkeypatch.setattr(_records.json, 'dump', explode)
    record = store.load(UUID)
    record.vm_state = 'error'
    with pytest.raises(OSError):
        store.save(record)
    monkeypatch.undo()
    assert store.load(UUID).vm_state == 'active'
    assert [f for f in os.listdir(store.paths.records_dir) if f.startswith('.tmp')] == []


def test_expected_task_state(store):
    record = InstanceRecord({'uuid': UUID, 'name': 'a', 'task_state': 'spawning'})
    store.save(record)
    record.task_state = None
    with pytest.raises(UnexpectedTaskState, match='task_state on disk is spawning, expected powering-off'):
        store.save(record, expected_task_state='powering-off')
    store.save(record, expected_task_state=('scheduling', 'spawning'))
    assert store.load(UUID).task_state is None


def test_unknown_fields_are_kept(store):
    path = store.paths.record(UUID)
    store.paths.ensure_layout()
    with open(path, 'w') as handle:
        json.dump({'uuid': UUID, 'name': 'a', 'future_field': [1, 2]}, handle)
    record = store.load(UUID)
    record.vm_state = 'active'
    store.save(record)
    with open(path) as handle:
        assert json.load(handle)['future_field'] == [1, 2]


def test_guest_agent_round_trips(store):
    store.save(InstanceRecord({'uuid': UUID, 'name': 'a', 'guest_agent': True}))
    with open(store.paths.record(UUID)) as handle:
        assert json.load(handle)['guest_agent'] is True
    assert store.load(UUID).guest_agent is True
    assert InstanceRecord({'uuid': UUID}).guest_agent is False          # a new record's default


def test_a_record_written_before_guest_agent_existed_loads_as_false(store):
    """Upgrade safety: an older version's record has no guest_agent key; it
    loads as False (no channel, as the domain it defined) and is written
    back with the field, keeping everything else."""
    path = store.paths.record(UUID)
    store.paths.ensure_layout()
    old = {'version': 1, 'uuid': UUID, 'name': 'a', 'vm_state': 'active', 'power_state': 'running',
           'virt_type': 'kvm', 'config_drive': True, 'flavor': {'vcpus': 1, 'memory_mb': 64}}
    with open(path, 'w') as handle:
        json.dump(old, handle)
    record = store.load(UUID)
    assert record.guest_agent is False and record.vm_state == 'active'
    store.save(record)
    with open(path) as handle:
        saved = json.load(handle)
    assert saved['guest_agent'] is False
    assert dict((key, saved[key]) for key in old) == old


def test_corrupt_record_is_reported(store):
    store.paths.ensure_layout()
    with open(store.paths.record(UUID), 'w') as handle:
        handle.write('{not json')
    with pytest.raises(RecordCorrupt, match='cannot be parsed'):
        store.load(UUID)


def test_action_log_survives_torn_last_line(store):
    store.paths.ensure_layout()
    log = store.actions(UUID)
    log.append('create', 'start')
    log.append('create', 'finish', result='success')
    with open(log.path, 'a') as handle:
        handle.write('{"action": "stop", "ev')
    assert [(e['action'], e['event']) for e in log.entries()] == [('create', 'start'), ('create', 'finish')]


def test_action_log_fsyncs_every_line_but_progress(store, monkeypatch):
    store.paths.ensure_layout()
    log = store.actions(UUID)
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(_records.os, 'fsync', lambda fd: synced.append(fd) or real_fsync(fd))
    log.append('migrate', 'start')
    assert len(synced) == 1
    log.append('migrate', 'copy_progress', durable=False, bytes_done=1, bytes_total=2)
    assert len(synced) == 1
    log.append('migrate', 'finish')
    assert len(synced) == 2
    assert [e['event'] for e in log.entries()] == ['start', 'copy_progress', 'finish']
    assert log.entries()[1]['bytes_done'] == 1 and 'durable' not in log.entries()[1]


def _hold_lock(path, ready, seconds):
    store = RecordStore(InstancePaths(path))
    with store.lock(UUID):
        ready.set()
        time.sleep(seconds)


def test_instance_lock_is_exclusive_across_processes(store):
    ready = multiprocessing.Event()
    holder = multiprocessing.Process(target=_hold_lock, args=(store.paths.root, ready, 2))
    holder.start()
    try:
        assert ready.wait(10)
        with pytest.raises(LockTimeout, match='instance web1 is held by another operation'):
            with store.lock(UUID, 'web1'):
                pass
    finally:
        holder.join()
    with store.lock(UUID):   # released when the holder exits
        pass


@pytest.mark.parametrize('timeout, waited', [
    (None, 0.5),        # the store's lock_timeout
    (0, 0.0),           # one try
    (0.2, 0.2),
])
def test_instance_lock_waits_for_its_timeout_or_the_stores(store, monkeypatch, timeout, waited):
    clock = fakes.install_lock_clock(monkeypatch)
    with store.lock(UUID):
        with pytest.raises(LockTimeout, match='instance web1 is held by another operation'):
            with store.lock(UUID, 'web1', timeout=timeout):
                pass
    assert waited <= clock.slept < waited + 0.5     # the last sleep (0.5 s at most) passes the deadline
    assert (clock.slept == 0) == (waited == 0)
    with store.lock(UUID, timeout=0):
        pass


def test_name_lock_is_one_file_per_name(store):
    """Hashed, so any valid name makes a file name; the same name the same lock."""
    path = store.paths.name_lock('web\u00e9 1')
    assert os.path.dirname(path) == store.paths.locks_dir
    assert os.path.basename(path) == 'name-%s.lock' % hashlib.sha1('web\u00e9 1'.encode('utf-8')).hexdigest()
    assert store.paths.name_lock('web\u00e9 1') == path != store.paths.name_lock('web1')
    with store.name_lock('web1'):
        with pytest.raises(LockTimeout, match='instance name web1 is held by another operation'):
            with store.name_lock('web1'):
                pass
        with store.name_lock('web2'), store.lock(UUID):
            pass
