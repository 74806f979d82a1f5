"""libvirt_instance's decision table, row by row (pure: no libvirt)."""

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import InstanceInvalidState, InstanceLocked, InvalidInput
from ansible_collections.novalite.compute.plugins.module_utils._instance.policy import Step, managed_view, not_applied, plan
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
    # guest_agent: chosen at build; a differing value on an existing instance plans nothing
    (desired(guest_agent=True), None, NONE, [Step('spawn', power_on=True)]),
    (desired(guest_agent=True), record(), ON, []),
    (desired(guest_agent=False), record(guest_agent=True), ON, []),
    (desired(guest_agent=True), record('stopped'), OFF, [Step('start')]),
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


def test_guest_agent_is_in_the_managed_view_and_set_by_spawn_only():
    assert managed_view(record(guest_agent=True), ON)['guest_agent'] is True
    assert managed_view(record(), ON)['guest_agent'] is False
    new = predict(managed_view(None, NONE), [Step('spawn', power_on=True)], desired(guest_agent=True))
    assert new['guest_agent'] is True
    before = managed_view(record(), OFF)
    steps = plan(desired(guest_agent=True), record('stopped'), OFF)
    assert predict(before, steps, desired(guest_agent=True))['guest_agent'] is False     # what really happens


@pytest.mark.parametrize('want, rec, steps, warned', [
    (desired(guest_agent=True), record(), [], True),
    (desired(guest_agent=False), record(guest_agent=True), [Step('start')], True),
    (desired(guest_agent=True), record(guest_agent=True), [], False),
    (desired(guest_agent=False), record(), [], False),
    (desired(), record(guest_agent=True), [], False),                      # not given (absent): nothing to say
    (desired(guest_agent=True), None, [Step('spawn', power_on=True)], False),
    (desired(guest_agent=True), record('deleted'), [Step('spawn', power_on=True)], False),
    # a build that never launched is built again, with the new value
    (desired(guest_agent=True), record('error', launched=False), [Step('spawn', power_on=True)], False),
])
def test_a_differing_guest_agent_on_an_existing_instance_is_reported(want, rec, steps, warned):
    warnings = not_applied(want, rec, steps)
    assert bool(warnings) == warned
    if warned:
        [text] = warnings
        assert text.startswith('guest_agent=%s is not applied to instance web1 (u-1)'
                               % str(want['guest_agent']).lower())
        assert 'built with guest_agent=%s' % str(bool(rec.guest_agent)).lower() in text
