# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""run_all's record batches on a fake hypervisor: instances whose records
only need correcting (running in the record, shut off in libvirt: sync
plans record_power_state + sync_stop) are corrected in a DurableBatch, a
few syncfs for all of them, their locks held until the flush and released
after it; an instance whose plan acts on its domain (stopped in the record,
running in libvirt: force_stop) flushes the batch and writes durably on its
own; one batched instance failing is reported alone, what it staged is
flushed and its lock released; a lock another operation holds is waited for
only after the batch flushed and released the locks it held."""

from __future__ import annotations

import contextlib
import json

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import NovaliteError
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.reconcile import run_all
from ansible_collections.novalite.compute.plugins.module_utils._store import batch as _batch
from ansible_collections.novalite.compute.plugins.module_utils._store import records as _records
from ansible_collections.novalite.compute.plugins.module_utils._store.locking import release, try_lock
from ansible_collections.novalite.compute.tests.unit import fakes

# record order (the plan's order) puts the instance needing a domain action in the middle
SHUT_OFF = ['66666666-aaaa-4bbb-8ccc-00000000000%d' % i for i in (1, 2, 4, 5)]
STARTED = '66666666-aaaa-4bbb-8ccc-000000000003'


@pytest.fixture
def hv(tmp_path, monkeypatch):
    fakes.install_clock(monkeypatch)
    hv = fakes.hypervisor(tmp_path / 'instances')
    for index, uuid in enumerate(SHUT_OFF):
        fakes.build(hv, uuid, name='off%d' % index)
        hv.host.guest_by_uuid(uuid).power_off_inside()         # active/running in the record, shut off
    fakes.build(hv, STARTED, name='started', power_on=False)
    hv.host.guest_by_uuid(STARTED).start_behind_our_back()     # stopped in the record, running
    return hv


@pytest.fixture
def spy(hv, monkeypatch):
    """Counts syncfs calls (and which instance locks are held at each),
    the record paths written by atomic_write_json, and keeps the lock
    contexts handed to batches alive (so an unreleased lock stays held)."""
    seen = {'syncfs': [], 'atomic': [], 'held': []}

    def syncfs(directory):
        seen['syncfs'].append(set(uuid for uuid in SHUT_OFF + [STARTED] if locked(hv, uuid)))
        return True
    real_atomic = _records.atomic_write_json

    def atomic_write_json(path, data, mode=0o600):
        seen['atomic'].append(path)
        return real_atomic(path, data, mode)
    real_hold = _batch.DurableBatch.hold

    def hold(self, context):
        seen['held'].append(context)
        return real_hold(self, context)
    monkeypatch.setattr(_batch, 'syncfs', syncfs)
    monkeypatch.setattr(_records, 'atomic_write_json', atomic_write_json)
    monkeypatch.setattr(_batch.DurableBatch, 'hold', hold)
    return seen


def locked(hv, uuid):
    """Whether someone (this process included) holds the instance lock now."""
    fd = try_lock(hv.paths.instance_lock(uuid))
    if fd is None:
        return True
    release(fd)
    return False


def reconcile(hv, reconciler=None, mode='both'):
    reconciler = reconciler or fakes.reconciler(hv, shutdown_timeout=30, wait_timeout=5)
    entries, _orphans = reconciler.plan(mode, hv.store.list())
    planned = dict((e['uuid'], [a.kind for a in e['actions']]) for e in entries)
    results, errors = run_all(reconciler, entries, mode)
    return planned, results, errors


def state(hv, uuid):
    record = hv.store.load(uuid)
    return record.vm_state, record.task_state, record.power_state


def test_run_all_corrects_every_instance(hv, spy):
    planned, results, errors = reconcile(hv)
    assert planned == dict([(uuid, ['record_power_state', 'sync_stop']) for uuid in SHUT_OFF]
                           + [(STARTED, ['record_power_state', 'force_stop'])])
    assert errors == 0 and all('error' not in r for r in results) and len(results) == 5
    for uuid in SHUT_OFF + [STARTED]:
        assert state(hv, uuid) == ('stopped', None, 'shutdown')
        assert [e for a, e in fakes.events(hv.store, uuid) if a == 'reconcile'] == planned[uuid]
    assert hv.host.guest_by_uuid(STARTED).power_state() == fakes.OFF
    assert all('destroy' not in hv.host.guest_by_uuid(uuid).calls for uuid in SHUT_OFF)
    assert reconcile(hv)[0] == dict((uuid, []) for uuid in SHUT_OFF + [STARTED])    # nothing left to do


def test_record_only_corrections_are_batched_and_the_domain_action_writes_on_its_own(hv, spy):
    _planned, _results, errors = reconcile(hv)
    assert errors == 0
    # one flush before the force_stop (the two batched before it), one at the end (the two after)
    assert len(spy['syncfs']) == 2 < len(SHUT_OFF)
    assert len(spy['held']) == len(SHUT_OFF)
    assert spy['atomic'].count(hv.paths.record(STARTED)) == 2      # record_power_state, force_stop
    assert not set(spy['atomic']) & set(hv.paths.record(uuid) for uuid in SHUT_OFF)


def test_batched_locks_are_held_until_their_flush_and_released_after(hv, spy):
    reconcile(hv)
    # at each syncfs, the batched instances' locks are still held (nobody reads their old record);
    # the first flush is made by the force_stop instance, under its own lock, before it acts
    assert spy['syncfs'] == [set(SHUT_OFF[:2]) | {STARTED}, set(SHUT_OFF[2:])]
    for uuid in SHUT_OFF + [STARTED]:
        assert not locked(hv, uuid)
        hv.store.lock_timeout = 0.01
        with hv.store.lock(uuid):
            pass


def test_one_failing_batched_instance_is_reported_and_the_others_are_corrected(hv, spy, monkeypatch):
    failing = SHUT_OFF[1]
    reconciler = fakes.reconciler(hv, shutdown_timeout=30, wait_timeout=5)
    real_sync_stop = reconciler._do_sync_stop

    def sync_stop(record, guest, action, outcome):
        if record.uuid == failing:
            raise NovaliteError('injected sync_stop failure')
        return real_sync_stop(record, guest, action, outcome)
    monkeypatch.setattr(reconciler, '_do_sync_stop', sync_stop)
    at_release = {}         # uuid -> the record file's power_state when its lock is released
    real_lock = hv.store.lock

    @contextlib.contextmanager
    def lock(uuid, name=None, timeout=None):
        with real_lock(uuid, name, timeout):
            try:
                yield
            finally:
                with open(hv.paths.record(uuid)) as handle:
                    at_release[uuid] = json.load(handle)['power_state']
    monkeypatch.setattr(hv.store, 'lock', lock)
    _planned, results, errors = reconcile(hv, reconciler)
    monkeypatch.setattr(hv.store, 'lock', real_lock)
    assert errors == 1
    failed = [r for r in results if 'error' in r]
    assert [r['uuid'] for r in failed] == [failing]
    assert 'injected sync_stop failure' in failed[0]['error'] and failed[0]['error_class'] == 'NovaliteError'
    for uuid in SHUT_OFF + [STARTED]:
        if uuid != failing:
            assert state(hv, uuid) == ('stopped', None, 'shutdown')
    # what it staged before the failure (record_power_state) was flushed before its lock went
    assert state(hv, failing) == ('active', None, 'shutdown')
    assert at_release == dict((uuid, 'shutdown') for uuid in SHUT_OFF + [STARTED])
    assert not locked(hv, failing)
    hv.store.lock_timeout = 0.01
    with hv.store.lock(failing):
        pass
    assert all(not locked(hv, uuid) for uuid in SHUT_OFF + [STARTED])


class _OtherOperation(fakes.FakeClock):
    """Virtual time for the instance lock waits, and the other operation
    that holds ``busy``'s lock: at each wait it notes which of the other
    instances' locks are held and what their record files say, and after
    the first wait (if ``finishes``) it gives the lock back."""

    def __init__(self, hv, busy, finishes):
        super().__init__()
        self.hv = hv
        self.busy = busy
        self.finishes = finishes
        self.fd = try_lock(hv.paths.instance_lock(busy))
        self.waits = []

    def sleep(self, seconds):
        others = [uuid for uuid in SHUT_OFF + [STARTED] if uuid != self.busy]
        self.waits.append((set(uuid for uuid in others if locked(self.hv, uuid)),
                           dict((uuid, _on_disk(self.hv, uuid)) for uuid in others)))
        if self.finishes:
            self.done()
        super().sleep(seconds)

    def done(self):
        if self.fd is not None:
            release(self.fd)
            self.fd = None


def _on_disk(hv, uuid):
    with open(hv.paths.record(uuid)) as handle:
        return json.load(handle)['power_state']


# plan order: off0, off1, started (a domain action: flushes the batch), off2, off3
@pytest.mark.parametrize('busy, batched_before, finishes', [
    (SHUT_OFF[0], [], True),                # the batch holds nothing yet
    (SHUT_OFF[1], SHUT_OFF[:1], True),
    (STARTED, SHUT_OFF[:2], True),
    (SHUT_OFF[2], [], True),                # started's flush emptied the batch
    (SHUT_OFF[3], SHUT_OFF[2:3], True),
    (SHUT_OFF[1], SHUT_OFF[:1], False),     # never given back: that instance fails alone
])
def test_a_busy_lock_is_waited_for_only_after_the_batch_released_its_own(
        hv, monkeypatch, busy, batched_before, finishes):
    other = _OtherOperation(hv, busy, finishes)
    fakes.install_lock_clock(monkeypatch, other)
    before = state(hv, busy)
    try:
        _planned, results, errors = reconcile(hv)
    finally:
        other.done()
    assert other.waits, 'the busy lock was not waited for'
    for held, records in other.waits:
        assert held == set()            # nobody waits for the batched instances meanwhile...
        assert all(records[uuid] == 'shutdown' for uuid in batched_before)     # ...their records are durable
    failed = [r['uuid'] for r in results if 'error' in r]
    assert (errors, failed) == ((0, []) if finishes else (1, [busy]))
    for uuid in SHUT_OFF + [STARTED]:
        assert state(hv, uuid) == (('stopped', None, 'shutdown') if finishes or uuid != busy else before)
        assert not locked(hv, uuid)
