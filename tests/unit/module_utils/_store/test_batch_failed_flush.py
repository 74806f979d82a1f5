# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Regression: a flush that fails releases the locks it held and drops what
it could not write; no later flush may write those records again without
their locks, over whatever another process saved meanwhile."""
import json

import pytest
from ansible_collections.novalite.compute.plugins.module_utils._store import batch as _batch
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import InstancePaths
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord, RecordStore

UUID = '7a7a7a7a-0000-4000-8000-000000000001'


def test_failed_flush_then_retry_overwrites_newer_record_without_lock(tmp_path, monkeypatch):
    paths = InstancePaths(str(tmp_path / 'i'))
    paths.ensure_layout()
    store = RecordStore(paths, lock_timeout=0.2)
    other = RecordStore(paths, lock_timeout=0.2)          # "another process"
    store.save(InstanceRecord({'uuid': UUID, 'name': 'a', 'vm_state': 'active'}))
    real_rename = _batch.os.rename
    fail = {'n': 1}

    def rename(src, dst):
        if fail['n']:
            fail['n'] -= 1
            raise OSError(5, 'Input/output error')        # transient
        return real_rename(src, dst)
    monkeypatch.setattr(_batch.os, 'rename', rename)
    with store.batch() as batch:
        lk = store.lock(UUID)
        lk.__enter__()
        r = store.load(UUID)
        r.vm_state = 'error'
        store.save(r)                                      # staged reconcile correction
        batch.hold(lk)
        with pytest.raises(OSError):
            batch.flush()                                  # e.g. _run_entries' full() flush or execute's flush
        # the lock is released although the record change never reached disk
        with other.lock(UUID):                             # an operator's libvirt_instance state=started
            r2 = other.load(UUID)
            r2.vm_state = 'active'
            r2.task_state = None
            r2.power_state = 'running'
            other.save(r2)
        # ... batch goes on; the final flush at the end of store.batch() retries _pending
    with open(paths.record(UUID)) as h:
        data = json.load(h)
    print('on disk after batch:', data['vm_state'], data['power_state'])
    assert data['vm_state'] == 'active', 'stale staged record overwrote the newer one, written without its lock'
