# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reboot rules, pure: which instances may reboot (Nova's check_instance_lock
and check_instance_state on compute/api.py reboot), which task states a
reboot walks through, and how the driver will do it (soft or hard).
No libvirt, no Ansible imports.
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import (
    InstanceInvalidState,
    InstanceLocked,
)
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import PowerState

SOFT = 'soft'
HARD = 'hard'
REBOOT_TYPES = (SOFT, HARD)

# vm_states each reboot type accepts (Nova's ALLOW_SOFT_REBOOT /
# ALLOW_HARD_REBOOT). A soft reboot of a stopped instance becomes a start,
# as the hard path does it.
ALLOW_SOFT_REBOOT = (states.ACTIVE, states.STOPPED)
ALLOW_HARD_REBOOT = (states.ACTIVE, states.STOPPED, states.PAUSED, states.SUSPENDED, states.ERROR)

# task_states each reboot type may start from. A hard reboot may take over
# an interrupted reboot of either kind (the operator's way out of a stuck
# soft reboot); a soft reboot needs an idle instance.
SOFT_FROM_TASK_STATES = (None,)
HARD_FROM_TASK_STATES = (None,) + states.SOFT_REBOOT_STATES + states.HARD_REBOOT_STATES

# The three persisted task states of each type, in order:
# API accepted -> compute manager acknowledged -> driver started.
TASK_STATES = {
    SOFT: (states.REBOOTING, states.REBOOT_PENDING, states.REBOOT_STARTED),
    HARD: (states.REBOOTING_HARD, states.REBOOT_PENDING_HARD, states.REBOOT_STARTED_HARD),
}


def check_can_reboot(record, reboot_type):
    """Raise InstanceLocked / InstanceInvalidState when ``record`` must not
    be rebooted with ``reboot_type``; return None otherwise."""
    if reboot_type not in REBOOT_TYPES:
        raise InstanceInvalidState('unknown reboot type %r' % reboot_type, instance=record.label)
    if record.locked:
        raise InstanceLocked('instance is locked; unlock it with novalite.compute.libvirt_instance locked=false',
                             instance=record.label, step='check lock')
    allowed_vm = ALLOW_SOFT_REBOOT if reboot_type == SOFT else ALLOW_HARD_REBOOT
    allowed_task = SOFT_FROM_TASK_STATES if reboot_type == SOFT else HARD_FROM_TASK_STATES
    if record.vm_state not in allowed_vm:
        raise InstanceInvalidState(
            "cannot '%s reboot' while in vm_state %s (allowed: %s)"
            % (reboot_type, record.vm_state, ', '.join(allowed_vm)),
            instance=record.label, step='check state', vm_state=record.vm_state)
    if record.task_state not in allowed_task:
        hint = ''
        if record.task_state in states.RESIZE_STATES:
            hint = ': a resize or migration is in progress; confirm or revert it first'
        elif reboot_type == SOFT and record.task_state in states.SOFT_REBOOT_STATES + states.HARD_REBOOT_STATES:
            hint = ': another reboot was interrupted; a hard reboot takes over from it'
        raise InstanceInvalidState(
            "cannot '%s reboot' while in task_state %s%s" % (reboot_type, record.task_state, hint),
            instance=record.label, step='check state', task_state=record.task_state)


def plan_reboot(record, reboot_type, observed):
    """What the reboot will do. ``observed`` is ``{'defined': bool,
    'power_state': label or None}`` as libvirt reports it now.

    Returns ``{'type', 'method', 'reason', 'task_states'}``: ``type`` is what
    was asked (it decides the task states), ``method`` how the driver starts
    (soft needs a running guest; anything else goes the hard way, which
    also starts a stopped instance)."""
    check_can_reboot(record, reboot_type)
    if reboot_type == HARD:
        method, reason = HARD, 'hard reboot requested'
    elif not observed.get('defined'):
        method, reason = HARD, 'the domain is not defined in libvirt'
    elif observed.get('power_state') != PowerState.RUNNING.label:
        method, reason = HARD, 'the instance is not running (power state %s)' % observed.get('power_state')
    else:
        method, reason = SOFT, 'soft reboot requested'
    return {'type': reboot_type, 'method': method, 'reason': reason,
            'task_states': list(TASK_STATES[reboot_type])}


def reboot_type(task_state, power_state):
    """Nova's get_reboot_type: hard unless the guest runs and a soft reboot was asked."""
    if power_state != PowerState.RUNNING.label or task_state in states.HARD_REBOOT_STATES:
        return HARD
    return SOFT


def expected_before(reboot_type):
    """task_state values the first transition may overwrite."""
    return SOFT_FROM_TASK_STATES if reboot_type == SOFT else HARD_FROM_TASK_STATES


def state_after_failure(power_state_label):
    """Nova's rule after a failed driver reboot: an instance that still runs
    stays active (the fault is recorded); anything else goes to error."""
    return states.ACTIVE if power_state_label == PowerState.RUNNING.label else states.ERROR
