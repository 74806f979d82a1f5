# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What libvirt_instance must do: a pure decision from (desired, record,
observed) to a list of steps. Check mode reports exactly this plan; the real
run executes exactly this plan. No libvirt, no Ansible imports.

Also, per step, what it leaves (``predict_<step>``, for check and diff
mode); ``_instance/steps.py`` is the table of the steps, pairing each
prediction with what the real run does.

``observed`` is ``{'defined': bool, 'power_state': 'running'|'shutdown'|…|None}``.
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import (
    InstanceInvalidState,
    InstanceLocked,
    InvalidInput,
)
from ansible_collections.novalite.compute.plugins.module_utils._common.flavor import flavor_values, resize_problems
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import PowerState

# Power states, as records and libvirt report them.
RUNNING = PowerState.RUNNING.label
OFF = PowerState.SHUTDOWN.label
_ON_STATES = (PowerState.RUNNING.label, PowerState.PAUSED.label)
# The values of the module's ``state`` option.
STATE_RUNNING = 'running'
STATE_STOPPED = 'stopped'
STATE_ABSENT = 'absent'


class Step(object):
    def __init__(self, name, **params):
        self.name = name
        self.params = params

    def to_dict(self):
        entry = {'step': self.name}
        entry.update(self.params)
        return entry

    def __eq__(self, other):
        return isinstance(other, Step) and (self.name, self.params) == (other.name, other.params)

    def __repr__(self):
        return 'Step(%r, %r)' % (self.name, self.params)


def is_live(record):
    return record is not None and record.vm_state != states.DELETED


def plan(desired, record, observed):
    """Return the list of Steps that converge the instance on ``desired``.

    A locked record (Nova's check_instance_lock) refuses every change except
    the unlock itself: ``locked: false`` unlocks first, ``locked: true``
    locks after the other steps."""
    steps = _plan_state(desired, record, observed)
    want = desired.get('locked')
    locked = bool(record.locked) if is_live(record) else False
    if locked and want is not False and steps:
        raise InstanceLocked('instance is locked; pass locked=false to change it',
                             instance=record.label, step='check lock')
    if want is False and locked:
        steps.insert(0, Step('unlock'))
    elif want and not locked and desired['state'] != STATE_ABSENT:
        steps.append(Step('lock'))
    return steps


def _plan_state(desired, record, observed):
    label = '%s' % desired['name']
    if desired['state'] == STATE_ABSENT:
        return [Step('delete')] if is_live(record) or observed['defined'] else []

    if not is_live(record):
        if observed['defined']:
            raise InvalidInput('a libvirt domain with uuid %s already exists but has no instance record on this host'
                               % desired.get('uuid'), instance=label)
        return [_spawn_step(desired, label)]

    if record.task_state is not None:
        raise InstanceInvalidState(
            'task_state is %s: an operation is in progress or was interrupted '
            '(run novalite.compute.state_reconcile to recover it)' % record.task_state,
            instance=record.label)

    steps = []
    power = observed['power_state']
    if not observed['defined']:
        if record.launched_at is None:
            # The build never finished: building again loses nothing.
            return [_spawn_step(desired, label, record)]
        steps.append(Step('redefine'))
        power = OFF

    if desired.get('flavor') is not None:
        old, new = flavor_values(record.flavor), flavor_values(desired['flavor'])
        if old != new:
            problems = resize_problems(old, new)
            if problems:
                raise InvalidInput('; '.join(problems), instance=record.label, step='resize')
            if power in _ON_STATES:
                steps.append(Step('stop'))
                power = OFF
            steps.append(Step('resize', flavor=new))

    if desired.get('metadata') is not None and desired['metadata'] != (record.metadata or {}):
        steps.append(Step('update_metadata'))

    if desired['state'] == STATE_RUNNING and power != RUNNING:
        steps.append(Step('start'))
    elif desired['state'] == STATE_STOPPED and power in _ON_STATES:
        steps.append(Step('stop'))
    return steps


def _spawn_step(desired, label, record=None):
    missing = [field for field in ('flavor', 'image') if desired.get(field) is None]
    if missing:
        raise InvalidInput('%s required to create the instance' % ' and '.join(missing), instance=label)
    return Step('spawn', power_on=desired['state'] == STATE_RUNNING)


# --- what the operator sees in diff mode ---------------------------------------
def managed_view(record, observed):
    """The fields libvirt_instance manages, as they are now."""
    if not is_live(record):
        return {'state': STATE_ABSENT}
    power = observed['power_state'] if observed['defined'] else None
    return {
        'state': STATE_RUNNING if power == RUNNING else STATE_STOPPED,
        'vm_state': record.vm_state,
        'power_state': power,
        'flavor': flavor_values(record.flavor),
        'metadata': dict(record.metadata or {}),
        'locked': bool(record.locked),
        'guest_agent': bool(record.guest_agent),
    }


# --- what is asked but only applies when an instance is built ------------------------
def not_applied(desired, record, steps):
    """Warnings for choices ``desired`` makes that the plan leaves as they
    are (pure). ``guest_agent`` is chosen when the instance is built (Nova
    reads ``hw_qemu_guest_agent`` from the image properties it kept at
    spawn): an existing instance keeps its channel through every later
    regeneration of its XML - hard reboot, resize, migration, revert,
    recovery - and a differing value is reported, not applied."""
    want = desired.get('guest_agent')
    if want is None or not is_live(record) or any(step.name == 'spawn' for step in steps):
        return []
    have = bool(record.guest_agent)
    if bool(want) == have:
        return []
    return ['guest_agent=%s is not applied to instance %s: the guest agent channel is chosen when an '
            'instance is built, and this one was built with guest_agent=%s, which it keeps (also through '
            'hard reboots, resizes and migrations); delete and build the instance again to change it'
            % (str(bool(want)).lower(), record.label, str(have).lower())]


# --- what each step leaves, for check and diff mode --------------------------------
# One function per step name: (managed view before the step, the Step,
# desired) -> the managed view after it succeeds. _instance/steps.py pairs
# each with what the real run does for that step.
def predict_spawn(_after, step, desired):
    on = step.params['power_on']
    return {'state': STATE_RUNNING if on else STATE_STOPPED,
            'vm_state': states.ACTIVE if on else states.STOPPED,
            'power_state': RUNNING if on else OFF,
            'flavor': flavor_values(desired['flavor']),
            'metadata': dict(desired.get('metadata') or {}),
            'locked': False,
            'guest_agent': bool(desired.get('guest_agent'))}


def predict_delete(_after, _step, _desired):
    return {'state': STATE_ABSENT}


def predict_redefine(after, _step, _desired):
    return dict(after, power_state=OFF, state=STATE_STOPPED)


def predict_start(after, _step, _desired):
    return dict(after, state=STATE_RUNNING, vm_state=states.ACTIVE, power_state=RUNNING)


def predict_stop(after, _step, _desired):
    return dict(after, state=STATE_STOPPED, vm_state=states.STOPPED, power_state=OFF)


def predict_resize(after, step, _desired):
    return dict(after, flavor=dict(step.params['flavor']))


def predict_update_metadata(after, _step, desired):
    return dict(after, metadata=dict(desired['metadata']))


def predict_lock(after, _step, _desired):
    return dict(after, locked=True)


def predict_unlock(after, _step, _desired):
    return dict(after, locked=False)
