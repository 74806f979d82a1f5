# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""DurableBatch through RecordStore.batch(): inside a batch, saves and
durable action lines stay in memory (load reads them back) and reach disk
only at the flush, in the documented order (lines, one syncfs, renames,
directory fsync, then the held locks released), with the fsync fallback
when syncfs is refused; the flush happens however the block ends, even when
a rename fails; paused() writes straight to disk; batches do not nest;
full() counts records and held locks; expected_task_state sees staged data."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import UnexpectedTaskState
from ansible_collections.novalite.compute.plugins.module_utils._store import batch as _batch
from ansible_collections.novalite.compute.plugins.module_utils._store.batch import DurableBatch
from ansible_collections.novalite.compute.plugins.module_utils._store.files import TMP_PREFIX
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import InstancePaths
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord, RecordStore

UUID = '7a7a7a7a-0000-4000-8000-000000000001'
OTHER = '7a7a7a7a-0000-4000-8000-000000000002'
THIRD = '7a7a7a7a-0000-4000-8000-000000000003'


@pytest.fixture
def store(tmp_path):
    paths = InstancePaths(str(tmp_path / 'instances'))
    paths.ensure_layout()
    return RecordStore(paths, lock_timeout=0.5)


def on_disk(store, uuid):
    """The record file's JSON as it is on disk now, or None."""
    try:
        with open(store.paths.record(uuid)) as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None


def log_lines(store, uuid):
    """The (action, event) of each line of the action log file on disk now."""
    try:
        with open(store.paths.actions(uuid)) as handle:
            return [(e['action'], e['event']) for e in (json.loads(line) for line in handle if line.strip())]
    except FileNotFoundError:
        return []


def temporaries(store):
    return sorted(f for f in os.listdir(store.paths.records_dir) if f.startswith(TMP_PREFIX))


def save(store, uuid, **fields):
    data = {'uuid': uuid, 'name': 'vm-' + uuid[-1], 'vm_state': 'active', 'power_state': 'running'}
    data.update(fields)
    return store.save(InstanceRecord(data))


class Held(object):
    """A lock context handed to the batch: records when it is released."""

    def __init__(self, events, name='held'):
        self.events = events
        self.name = name
        self.exited = 0

    def __exit__(self, *exc):
        self.exited += 1
        self.events.append(('exit', self.name))
        return False


def test_a_save_in_a_batch_reaches_disk_at_the_end_and_load_reads_the_staged_one(store):
    save(store, UUID, vm_state='active')
    before = on_disk(store, UUID)
    with store.batch():
        record = store.load(UUID)
        record.vm_state = 'stopped'
        store.save(record)
        save(store, OTHER, vm_state='error')               # a record not on disk at all yet
        assert on_disk(store, UUID) == before               # the old content, untouched
        assert on_disk(store, OTHER) is None
        assert store.load(UUID).vm_state == 'stopped' and store.load(OTHER).vm_state == 'error'
    after = on_disk(store, UUID)
    assert after['vm_state'] == 'stopped' and after['updated_at'] and after['updated_at'] != before['updated_at']
    assert on_disk(store, OTHER)['vm_state'] == 'error' and on_disk(store, OTHER)['updated_at']
    assert temporaries(store) == []


def test_two_saves_of_one_record_write_one_temporary_file_with_the_last_content(store, monkeypatch):
    created = []
    real_mkstemp = _batch.tempfile.mkstemp

    def counting_mkstemp(*args, **kwargs):
        fd, path = real_mkstemp(*args, **kwargs)
        created.append(path)
        return fd, path
    monkeypatch.setattr(_batch.tempfile, 'mkstemp', counting_mkstemp)
    with store.batch():
        save(store, UUID, vm_state='stopped')
        save(store, UUID, vm_state='error')
        assert created == []
    assert len(created) == 1 and os.path.basename(created[0]).startswith(TMP_PREFIX)
    assert on_disk(store, UUID)['vm_state'] == 'error'
    assert sorted(os.listdir(store.paths.records_dir)) == sorted(['.writers.lock', UUID + '.json'])


def test_action_lines_wait_for_the_flush_but_progress_lines_do_not(store):
    with store.batch():
        log = store.actions(UUID)
        log.append('reconcile', 'first')
        log.append('spawn', 'progress', durable=False)      # straight to disk, even in a batch
        log.append('reconcile', 'second')
        assert log_lines(store, UUID) == [('spawn', 'progress')]
    assert log_lines(store, UUID) == [('spawn', 'progress'), ('reconcile', 'first'), ('reconcile', 'second')]


def test_the_flush_writes_lines_then_syncs_then_renames_then_fsyncs_the_directory_then_releases(store, monkeypatch):
    events = []
    records_dir = store.paths.records_dir
    real_append, real_rename, real_fsync = _batch.append_line, _batch.os.rename, _batch.fsync_path

    def append_line(path, text, durable=True):
        events.append(('append', os.path.basename(path), text.count('\n')))
        return real_append(path, text, durable)

    def syncfs(directory):
        events.append(('syncfs', directory))
        return True

    def rename(src, dst):
        if os.path.dirname(src) == records_dir:
            assert os.path.basename(src).startswith(TMP_PREFIX)
            events.append(('rename', os.path.basename(dst)))
        return real_rename(src, dst)

    def fsync_path(path):
        events.append(('fsync', path))
        return real_fsync(path)
    monkeypatch.setattr(_batch, 'append_line', append_line)
    monkeypatch.setattr(_batch, 'syncfs', syncfs)
    monkeypatch.setattr(_batch.os, 'rename', rename)
    monkeypatch.setattr(_batch, 'fsync_path', fsync_path)
    with store.batch() as batch:
        save(store, OTHER)
        save(store, UUID)
        store.actions(UUID).append('reconcile', 'record_power_state')
        store.actions(UUID).append('reconcile', 'sync_stop')
        batch.hold(Held(events, 'first'))
        batch.hold(Held(events, 'second'))
        assert events == []
    assert events == [
        ('append', UUID + '.actions.jsonl', 2),     # one write for both lines of the log
        ('syncfs', records_dir),
        ('rename', UUID + '.json'),
        ('rename', OTHER + '.json'),
        ('fsync', records_dir),
        ('exit', 'second'),                         # the held locks last, the latest first
        ('exit', 'first'),
    ]
    assert on_disk(store, UUID) and on_disk(store, OTHER)


def test_without_syncfs_every_temporary_file_and_log_is_fsynced(store, monkeypatch):
    created, fsynced = [], []
    real_mkstemp, real_fsync = _batch.tempfile.mkstemp, _batch.fsync_path

    def mkstemp(*args, **kwargs):
        fd, path = real_mkstemp(*args, **kwargs)
        created.append(path)
        return fd, path

    def fsync_path(path):
        assert os.path.exists(path)                 # a temporary file is fsynced before its rename
        fsynced.append(path)
        return real_fsync(path)
    monkeypatch.setattr(_batch.tempfile, 'mkstemp', mkstemp)
    monkeypatch.setattr(_batch, 'fsync_path', fsync_path)
    monkeypatch.setattr(_batch, 'syncfs', lambda directory: False)
    with store.batch():
        save(store, UUID)
        save(store, OTHER)
        store.actions(UUID).append('reconcile', 'a')
        store.actions(OTHER).append('reconcile', 'b')
    logs = {store.paths.actions(UUID), store.paths.actions(OTHER)}
    assert len(created) == 2
    assert sorted(fsynced) == sorted(set(created) | logs | {store.paths.records_dir})
    assert fsynced[-1] == store.paths.records_dir   # the directory after the renames
    assert temporaries(store) == [] and on_disk(store, UUID) and on_disk(store, OTHER)

    del fsynced[:]
    with store.batch():                             # only lines: each log is fsynced, nothing else
        store.actions(UUID).append('reconcile', 'c')
    assert fsynced == [store.paths.actions(UUID)]


def test_an_exception_in_the_block_still_flushes_and_releases(store):
    events = []
    held = Held(events)
    with pytest.raises(ValueError, match='boom'):
        with store.batch() as batch:
            save(store, UUID, vm_state='stopped')
            store.actions(UUID).append('reconcile', 'sync_stop')
            batch.hold(held)
            raise ValueError('boom')
    assert on_disk(store, UUID)['vm_state'] == 'stopped'
    assert log_lines(store, UUID) == [('reconcile', 'sync_stop')]
    assert held.exited == 1
    assert store._batch is None                     # the next batch can start
    with store.batch():
        pass


def _failing_second_rename(store, monkeypatch):
    """os.rename fails on the batch's second record rename."""
    renames = []
    real_rename = _batch.os.rename

    def rename(src, dst):
        if os.path.dirname(src) == store.paths.records_dir and os.path.basename(src).startswith(TMP_PREFIX):
            renames.append(dst)
            if len(renames) == 2:
                raise OSError(28, 'No space left on device')
        return real_rename(src, dst)
    monkeypatch.setattr(_batch.os, 'rename', rename)
    return renames


def _batch_with_failing_rename(store, monkeypatch):
    """Three records saved in a batch whose second rename fails: (the
    renames tried, the temporary files created in record order, the held context)."""
    for uuid in (UUID, OTHER, THIRD):
        save(store, uuid, vm_state='active')
    created = []
    real_mkstemp = _batch.tempfile.mkstemp

    def mkstemp(*args, **kwargs):
        fd, path = real_mkstemp(*args, **kwargs)
        created.append(path)
        return fd, path
    monkeypatch.setattr(_batch.tempfile, 'mkstemp', mkstemp)
    renames = _failing_second_rename(store, monkeypatch)
    held = Held([])
    with pytest.raises(OSError, match='No space left'):
        with store.batch() as batch:
            for uuid in (UUID, OTHER, THIRD):
                save(store, uuid, vm_state='stopped')
            batch.hold(held)
    return renames, created, held


def test_a_failing_rename_keeps_the_renamed_record_releases_and_propagates(store, monkeypatch):
    renames, created, held = _batch_with_failing_rename(store, monkeypatch)
    assert renames == [store.paths.record(UUID), store.paths.record(OTHER)]
    assert on_disk(store, UUID)['vm_state'] == 'stopped'           # renamed before the failure
    assert on_disk(store, OTHER)['vm_state'] == 'active'           # the old records stand
    assert on_disk(store, THIRD)['vm_state'] == 'active'
    assert held.exited == 1
    assert len(created) == 3
    assert not os.path.exists(created[0])       # renamed over its record
    assert not os.path.exists(created[2])       # never renamed: removed


def test_a_failing_rename_leaves_no_temporary_file(store, monkeypatch):
    _renames, created, _held = _batch_with_failing_rename(store, monkeypatch)
    assert not os.path.exists(created[1])
    assert temporaries(store) == []


def test_a_save_while_paused_goes_to_disk_at_once(store):
    save(store, UUID, vm_state='active')
    with store.batch() as batch:
        with batch.paused():
            save(store, UUID, vm_state='stopped')
            store.actions(UUID).append('reconcile', 'force_stop')
            assert on_disk(store, UUID)['vm_state'] == 'stopped'
            assert log_lines(store, UUID) == [('reconcile', 'force_stop')]
        assert on_disk(store, UUID)['vm_state'] == 'stopped'           # before the batch ends
        save(store, OTHER)                                              # batching again after the pause
        assert on_disk(store, OTHER) is None
    assert on_disk(store, UUID)['vm_state'] == 'stopped' and on_disk(store, OTHER) is not None


def test_a_paused_save_replaces_what_was_staged_for_that_record(store):
    save(store, UUID, vm_state='active')
    with store.batch() as batch:
        save(store, UUID, vm_state='error')                             # staged
        with batch.paused():
            save(store, UUID, vm_state='stopped')                       # straight to disk
        assert store.load(UUID).vm_state == 'stopped'
    assert on_disk(store, UUID)['vm_state'] == 'stopped'                # the flush did not write the staged one back


def test_batches_do_not_nest_and_the_outer_one_still_flushes(store):
    with store.batch() as outer:
        save(store, UUID, vm_state='stopped')
        with pytest.raises(RuntimeError, match='do not nest'):
            with store.batch():
                pass
        assert store._batch is outer
        assert on_disk(store, UUID) is None        # still only staged
        save(store, OTHER)
    assert on_disk(store, UUID)['vm_state'] == 'stopped' and on_disk(store, OTHER) is not None


def test_full_at_the_limit_of_records_or_of_held_locks(store):
    records_dir = store.paths.records_dir
    batch = DurableBatch(records_dir, limit=2)
    batch.stage(os.path.join(records_dir, UUID + '.json'), {'uuid': UUID})
    batch.stage(os.path.join(records_dir, UUID + '.json'), {'uuid': UUID})    # the same record: one pending
    assert not batch.full()
    batch.stage(os.path.join(records_dir, OTHER + '.json'), {'uuid': OTHER})
    assert batch.full()
    batch.flush()
    assert not batch.full() and on_disk(store, UUID) == {'uuid': UUID}

    events = []
    batch.hold(Held(events, 'a'))
    assert not batch.full()
    batch.hold(Held(events, 'b'))
    assert batch.full()
    batch.flush()
    assert not batch.full() and events == [('exit', 'b'), ('exit', 'a')]


def test_holding_while_it_keeps_locks_until_their_flush(store):
    batch = DurableBatch(store.paths.records_dir)
    assert not batch.holding()
    batch.stage(os.path.join(store.paths.records_dir, UUID + '.json'), {'uuid': UUID})
    assert not batch.holding()              # staged records alone keep nobody waiting
    batch.hold(Held([]))
    assert batch.holding()
    batch.flush()
    assert not batch.holding()


def test_expected_task_state_is_checked_against_the_staged_record(store):
    save(store, UUID, task_state=None)
    with store.batch():
        save(store, UUID, task_state='powering-off')
        assert on_disk(store, UUID)['task_state'] is None
        record = store.load(UUID)
        record.task_state = None
        with pytest.raises(UnexpectedTaskState, match='task_state on disk is powering-off, expected powering-on'):
            store.save(record, expected_task_state='powering-on')
        store.save(record, expected_task_state='powering-off')
        assert store.load(UUID).task_state is None
    assert on_disk(store, UUID)['task_state'] is None
