# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Regression for run_all: a flush that fails (a transient EIO on rename)
inside execute() releases the earlier batched instances' locks and reports one
error; the final flush must not write those stale records after their locks
went, over what another process saved under the lock meanwhile."""
import contextlib
import json

from ansible_collections.novalite.compute.plugins.module_utils._reconcile.reconcile import run_all
from ansible_collections.novalite.compute.plugins.module_utils._store import batch as _batch
from ansible_collections.novalite.compute.plugins.module_utils._store.records import RecordStore
from ansible_collections.novalite.compute.tests.unit import fakes

SHUT_OFF = ['66666666-aaaa-4bbb-8ccc-00000000000%d' % i for i in (1, 2, 4, 5)]
STARTED = '66666666-aaaa-4bbb-8ccc-000000000003'


def test_stale(tmp_path, monkeypatch):
    fakes.install_clock(monkeypatch)
    hv = fakes.hypervisor(tmp_path / 'instances')
    for index, uuid in enumerate(SHUT_OFF):
        fakes.build(hv, uuid, name='off%d' % index)
        hv.host.guest_by_uuid(uuid).power_off_inside()
    fakes.build(hv, STARTED, name='started', power_on=False)
    hv.host.guest_by_uuid(STARTED).start_behind_our_back()
    real_rename = _batch.os.rename
    fails = {'n': 2}            # the flush before STARTED acts, and its except-path retry

    def rename(src, dst):
        if fails['n']:
            fails['n'] -= 1
            raise OSError(5, 'Input/output error')
        return real_rename(src, dst)
    monkeypatch.setattr(_batch.os, 'rename', rename)
    other = RecordStore(hv.paths, lock_timeout=0.1)   # another process (libvirt_instance)
    real_lock = hv.store.lock
    victim = SHUT_OFF[0]

    @contextlib.contextmanager
    def lock(uuid, name=None, timeout=None):
        if uuid == SHUT_OFF[2]:
            with other.lock(victim):      # succeeds: the victim's lock was released by the failed flush
                r = other.load(victim)
                r.vm_state, r.task_state, r.power_state = 'active', None, 'running'
                other.save(r)
        with real_lock(uuid, name, timeout):
            yield
    monkeypatch.setattr(hv.store, 'lock', lock)
    reconciler = fakes.reconciler(hv, shutdown_timeout=30, wait_timeout=5)
    entries, _actions = reconciler.plan('both', hv.store.list())
    results, errors = run_all(reconciler, entries, 'both')
    print('errors', errors, [r.get('error') for r in results])
    with open(hv.paths.record(victim)) as h:
        d = json.load(h)
    print('victim on disk:', d['vm_state'], d['power_state'])
    assert (d['vm_state'], d['power_state']) == ('active', 'running'), 'newer save lost to a stale batched write'
