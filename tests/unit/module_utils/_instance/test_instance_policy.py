"""libvirt_instance's decision table, row by row (pure: no libvirt)."""

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import InstanceInvalidState, InstanceLocked, InvalidInput
from ansible_collections.novalite.compute.plugins.module_utils._instance.policy import Step, managed_view, plan
from ansible_collections.novalite.compute.plugins.module_utils._instance.steps import predict
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord

FLAVOR = {'vcpus': 1, 'memory_mb': 128, 'root_gb': 1, 'ephemeral_gb': 0, 'swap_mb': 0}
BIGGER = dict(FLAVOR, vcpus=2, root_gb=2)
SMALLER = dict(FLAVOR, root_gb=0)
IMAGE = {'url': 'file:///i.qcow2'}


def desired(state='running', **extra):
    d = {'name': 'web1', 'uuid': None, 'state': state, 'flavor': FLAVOR, 'image': IMAGE, 'metadata': None}
    d.update(extra)
    return d


def record(vm_state='active', task_state=None, launched=True, **extra):
    data = {'uuid': 'u-1', 'name': 'web1', 'vm_state': vm_state, 'task_state': task_state,
            'flavor': FLAVOR, 'metadata': {}, 'launched_at': '2026-01-01T00:00:00Z' if launched else None}
    data.update(extra)
    return InstanceRecord(data)


ON = {'defined': True, 'power_state': 'running'}
OFF = {'defined': True, 'power_state': 'shutdown'}
PAUSED = {'defined': True, 'power_state': 'paused'}
NONE = {'defined': False, 'power_state': None}


@pytest.mark.parametrize('want, rec, seen, steps', [
    # new instances
    (desired(), None, NONE, [Step('spawn', power_on=True)]),
    (desired('stopped'), None, NONE, [Step('spawn', power_on=False)]),
    (desired(), record('deleted'), NONE, [Step('spawn', power_on=True)]),
    (desired('absent'), None, NONE, []),
    (desired('absent'), record('deleted'), NONE, []),
    # existing, idempotent
    (desired(), record(), ON, []),
    (desired('stopped'), record('stopped'), OFF, []),
    # power changes
    (desired(), record('stopped'), OFF, [Step('start')]),
    (desired('stopped'), record(), ON, [Step('stop')]),
    (desired('stopped'), record('paused'), PAUSED, [Step('stop')]),
    # deletion
    (desired('absent'), record(), ON, [Step('delete')]),
    (desired('absent'), record('error'), NONE, [Step('delete')]),
    (desired('absent'), None, ON, [Step('delete')]),   # our orphan domain
    (desired('absent'), record(task_state='spawning'), ON, [Step('delete')]),
    # a failed build is retried; a launched instance is redefined, never rebuilt
    (desired(), record('error', launched=False), NONE, [Step('spawn', power_on=True)]),
    (desired(), record('active'), NONE, [Step('redefine'), Step('start')]),
    (desired('stopped'), record('stopped'), NONE, [Step('redefine')]),
    # flavor change: powered off around the resize, back to the wanted state
    (desired(flavor=BIGGER), record(), ON, [Step('stop'), Step('resize', flavor=BIGGER), Step('start')]),
    (desired('stopped', flavor=BIGGER), record(), ON, [Step('stop'), Step('resize', flavor=BIGGER)]),
    (desired(flavor=BIGGER), record('stopped'), OFF, [Step('resize', flavor=BIGGER), Step('start')]),
    # metadata
    (desired(metadata={'a': '1'}), record(), ON, [Step('update_metadata')]),
    (desired(metadata={}), record(), ON, []),
    (desired(metadata=None), record(metadata={'a': '1'}), ON, []),
    # flavor not given: keep
    (desired(flavor=None), record(), ON, []),
    # lock: unlock first, lock last; a locked record with nothing to do is fine
    (desired(locked=True), record(), ON, [Step('lock')]),
    (desired(locked=True), record(locked=True), ON, []),
    (desired(), record(locked=True), ON, []),
    (desired(locked=False), record(locked=True), ON, [Step('unlock')]),
    (desired('stopped', locked=False), record(locked=True), ON, [Step('unlock'), Step('stop')]),
    (desired('stopped', locked=True), record(), ON, [Step('stop'), Step('lock')]),
    (desired(locked=True), None, NONE, [Step('spawn', power_on=True), Step('lock')]),
    (desired('absent', locked=False), record(locked=True), ON, [Step('unlock'), Step('delete')]),
    (desired('absent', locked=True), record(), ON, [Step('delete')]),
])
def test_plan_table(want, rec, seen, steps):
    assert plan(want, rec, seen) == steps


@pytest.mark.parametrize('want, rec, seen, error, text', [
    (desired(flavor=SMALLER), record(), ON, InvalidInput, 'Unable to resize disk down: root_gb 1 -> 0'),
    (desired(), record(task_state='powering-off'), ON, InstanceInvalidState, 'state_reconcile'),
    (desired(flavor=None), None, NONE, InvalidInput, 'flavor required'),
    (desired(image=None), None, NONE, InvalidInput, 'image required'),
    (desired(), None, ON, InvalidInput, 'no instance record'),
    (desired('stopped'), record(locked=True), ON, InstanceLocked, 'locked'),
    (desired('absent'), record(locked=True), ON, InstanceLocked, 'locked'),
    (desired(flavor=BIGGER, locked=True), record(locked=True), ON, InstanceLocked, 'locked'),
])
def test_plan_refusals(want, rec, seen, error, text):
    with pytest.raises(error, match=text):
        plan(want, rec, seen)


def test_predict_matches_steps():
    before = managed_view(record(), ON)
    assert before['state'] == 'running' and before['flavor']['vcpus'] == 1
    steps = plan(desired(flavor=BIGGER), record(), ON)
    after = predict(before, steps, desired(flavor=BIGGER))
    assert after['flavor'] == BIGGER and after['state'] == 'running'
    assert predict(before, [Step('delete')], desired('absent')) == {'state': 'absent'}
    new = predict(managed_view(None, NONE), [Step('spawn', power_on=False)], desired('stopped'))
    assert (new['state'], new['vm_state'], new['power_state']) == ('stopped', 'stopped', 'shutdown')
    assert predict(before, [Step('lock')], desired())['locked'] is True
