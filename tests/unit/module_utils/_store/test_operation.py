"""Operation.running: every Exception (not Ctrl-C, not sys.exit) ends an
operation the same way: on_error runs, the fault is written, the action log
gets its error line, and the error names the instance and the step."""

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import (
    HypervisorError,
    InternalError,
    NovaliteError,
)
from ansible_collections.novalite.compute.plugins.module_utils._store.operation import Operation
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import InstancePaths
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord, RecordStore

UUID = '0b6f4c1e-3333-4c4c-9d9d-0123456789ab'


@pytest.fixture
def operation(tmp_path):
    store = RecordStore(InstancePaths(str(tmp_path)), lock_timeout=1)
    record = InstanceRecord({'uuid': UUID, 'name': 'web1', 'vm_state': 'active'})
    store.save(record)
    return store, record, Operation(store, record, 'create')


def _fail_in_step(op, exc, seen):
    def on_error(error):
        seen.append(error)
        op.record.vm_state = 'error'
    with op.running(on_error=on_error):
        op.step('guest xml')
        raise exc


def _events(store):
    return [(entry['event'], entry.get('step')) for entry in store.actions(UUID).entries()]


def test_unexpected_exception_is_wrapped_and_ends_the_operation(operation):
    store, record, op = operation
    seen = []
    original = ValueError('All strings must be XML compatible: Unicode or ASCII, no NULL bytes or control characters')
    with pytest.raises(NovaliteError) as caught:
        _fail_in_step(op, original, seen)
    error = caught.value
    assert isinstance(error, InternalError)
    assert error.__cause__ is original
    assert error.step == 'guest xml' and error.instance == record.label
    assert str(error).startswith('instance web1 (%s): guest xml: ' % UUID)
    assert 'ValueError' in error.message and 'All strings must be XML compatible' in error.message
    assert seen == [error]                                   # on_error ran
    saved = store.load(UUID)
    assert saved.vm_state == 'error'
    assert saved.fault['step'] == 'guest xml' and saved.fault['action'] == 'create'
    assert saved.fault['message'] == error.message
    assert _events(store) == [('start', None), ('error', 'guest xml')]


def test_collection_error_is_re_raised_unchanged(operation):
    store, record, op = operation
    seen = []
    original = HypervisorError('defining the domain failed: boom', code=27)
    with pytest.raises(HypervisorError) as caught:
        _fail_in_step(op, original, seen)
    assert caught.value is original and seen == [original]
    assert store.load(UUID).fault['message'] == 'defining the domain failed: boom'
    assert _events(store) == [('start', None), ('error', 'guest xml')]


def test_os_error_keeps_its_own_message(operation):
    store, record, op = operation
    original = OSError(28, 'No space left on device')
    with pytest.raises(NovaliteError, match='guest xml failed: .*No space left on device') as caught:
        _fail_in_step(op, original, [])
    assert not isinstance(caught.value, InternalError) and caught.value.__cause__ is original
    assert _events(store) == [('start', None), ('error', 'guest xml')]


def test_base_exception_is_not_caught(operation):
    """Ctrl-C and sys.exit are not failures of the operation: nothing is
    written for them (state_reconcile recovers an interrupted task)."""
    store, record, op = operation
    seen = []
    with pytest.raises(KeyboardInterrupt):
        _fail_in_step(op, KeyboardInterrupt(), seen)
    assert seen == [] and store.load(UUID).fault is None
    assert _events(store) == [('start', None)]
