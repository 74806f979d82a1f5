# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The two decision tables of state_reconcile, pure (no libvirt, no Ansible):

* ``recover()`` — Nova's _init_instance: what to do at start-up (or on
  demand) with an instance whose last operation may have been cut short.
* ``sync()`` — Nova's _sync_instance_power_state: how the record follows
  what the hypervisor reports.

Both take the instance record (an InstanceRecord), what libvirt shows
(``observed``: ``{'defined': bool, 'power_state': label or None,
'instance_dir': bool, 'resize_dir': bool}``), the owner of the instance
(this host's name unless the whole inventory says otherwise) and this
host's name, and return a list of ``Action``s, in order. An empty list
means nothing to do; ``note`` actions only explain.
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common import states as st
from ansible_collections.novalite.compute.plugins.module_utils._common.steps import STEPS

RUNNING, SHUTDOWN, CRASHED, SUSPENDED, PAUSED, NOSTATE = (
    'running', 'shutdown', 'crashed', 'suspended', 'paused', 'nostate')

ALLOW_SOFT_REBOOT = (st.ACTIVE, st.STOPPED)
ALLOW_HARD_REBOOT = (st.ACTIVE, st.STOPPED, st.PAUSED, st.SUSPENDED, st.ERROR)
SOFT_REBOOT_PENDING = (st.REBOOTING, st.REBOOT_PENDING)
HARD_REBOOT_PENDING = (st.REBOOTING_HARD, st.REBOOT_PENDING_HARD)
REBOOT_STARTED = (st.REBOOT_STARTED, st.REBOOT_STARTED_HARD)


class Action(object):
    """One thing to do: ``kind`` from the vocabulary below, why, parameters."""

    # every kind that changes something is a step of the reconcile action
    # (a crash point); a note only explains
    KINDS = STEPS[st.ACTION_RECONCILE] + ('note',)

    def __init__(self, kind, reason, **params):
        if kind not in self.KINDS:
            raise ValueError('unknown action %s' % kind)
        self.kind = kind
        self.reason = reason
        self.params = params

    def to_dict(self):
        entry = {'action': self.kind, 'reason': self.reason}
        entry.update(self.params)
        return entry

    def __eq__(self, other):
        return isinstance(other, Action) and (self.kind, self.params) == (other.kind, other.params)

    def __repr__(self):
        return 'Action(%r, %r)' % (self.kind, self.params)


def changes(actions):
    """Whether any action changes something (notes do not)."""
    return any(a.kind != 'note' for a in actions)


def _migration_in_flight(record):
    status = (record.migration or {}).get('status')
    return status is not None and status not in ms.DONE + (ms.ERROR,)


def reboot_type(task_state, power_state):
    """Nova's get_reboot_type: hard unless the guest runs and a soft reboot was asked."""
    if power_state != RUNNING or task_state in st.HARD_REBOOT_STATES:
        return 'hard'
    return 'soft'


def recover(record, observed, owner, this_host, resume_guests_state_on_host_boot=False):
    """Start-up recovery of one instance (Nova's _init_instance)."""
    power = observed.get('power_state') if observed.get('defined') else NOSTATE
    vm, task = record.vm_state, record.task_state

    if owner != this_host:
        if observed.get('defined') and not _migration_in_flight(record):
            return [Action('destroy_domain', 'instance belongs to %s; its leftover domain here is destroyed '
                                             '(disks kept)' % owner)]
        return [Action('note', 'instance belongs to %s: skipped' % owner)]
    if vm == st.SOFT_DELETED or (vm == st.ERROR and task not in (st.RESIZE_MIGRATING, st.DELETING)):
        return [Action('note', 'vm_state %s: nothing to recover' % vm)]
    if vm == st.DELETED:
        if observed.get('defined') or observed.get('instance_dir') or observed.get('resize_dir'):
            return [Action('complete_deletion', 'deleted instance still has a domain or files')]
        return []
    if vm == st.BUILDING or task in st.BUILD_TASK_STATES:
        return [Action('set_error', 'the build was interrupted (task_state %s)' % task)]
    if vm in (st.ACTIVE, st.STOPPED) and task in st.REBUILD_TASK_STATES:
        return [Action('set_error', 'the rebuild was interrupted (task_state %s)' % task)]

    actions = []
    if vm != st.ERROR and task in st.SNAPSHOT_TASK_STATES:
        actions.append(Action('clear_task_state', 'interrupted snapshot (task_state %s)' % task))
        task = None
    if vm != st.ERROR and task == st.RESIZE_PREP:
        actions.append(Action('clear_task_state', 'resize never left the API step (resize_prep)'))
        task = None
    if task == st.DELETING:
        return actions + [Action('finish_deletion', 'the deletion was interrupted')]

    pending_soft = task in SOFT_REBOOT_PENDING and vm in ALLOW_SOFT_REBOOT
    pending_hard = task in HARD_REBOOT_PENDING and vm in ALLOW_HARD_REBOOT
    started_not_running = task in REBOOT_STARTED and power != RUNNING
    if pending_soft or pending_hard or started_not_running:
        kind = reboot_type(task, power)
        return actions + [Action('reboot', 'interrupted reboot (task_state %s, power %s)' % (task, power),
                                 type=kind, from_task_state=task)]
    if power == RUNNING and task in REBOOT_STARTED + (st.PAUSING, st.UNPAUSING):
        actions.append(Action('clear_task_state', 'the guest runs: the %s finished' % task, vm_state=st.ACTIVE))
        task = None

    if task == st.POWERING_OFF:
        return actions + [Action('stop', 'the power-off was interrupted')]
    if task == st.POWERING_ON:
        return actions + [Action('start', 'the power-on was interrupted')]
    if task == st.RESIZE_MIGRATING:
        power_on = (record.system_metadata or {}).get('old_vm_state') != st.STOPPED
        return actions + [Action('revert_migration', 'the migration was interrupted while copying: '
                                                     'rolled back on this host', power_on=power_on)]
    if task == st.RESIZE_FINISH and record.new_flavor and not _migration_in_flight(record):
        return actions + [Action('finish_resize', 'the in-place resize was interrupted: done again with the '
                                                  'new flavor (disks only ever grow)')]
    if task in (st.RESIZE_MIGRATED, st.RESIZE_FINISH, st.RESIZE_REVERTING, st.RESIZE_CONFIRMING):
        return actions + [Action('note', 'a migration waits in task_state %s: finish, confirm or revert it '
                                         'with the resize playbook' % task)]

    if record.power_state == RUNNING and power != RUNNING and task is None:
        if resume_guests_state_on_host_boot:
            return actions + [Action('resume', 'the record says running, libvirt says %s: started again '
                                               '(resume_guests_state_on_host_boot)' % power)]
    return actions


def sync(record, observed, owner, this_host):
    """Power-state sync of one instance (Nova's _sync_instance_power_state)."""
    power = observed.get('power_state') if observed.get('defined') else NOSTATE
    if owner != this_host:
        return [Action('note', 'instance belongs to %s: skipped' % owner)]
    if record.task_state is not None:
        return [Action('note', 'task %s in progress: skipped' % record.task_state)]
    actions = []
    if power != record.power_state:
        actions.append(Action('record_power_state', 'libvirt reports %s, the record said %s'
                              % (power, record.power_state), power_state=power))
    vm = record.vm_state
    if vm == st.ACTIVE:
        if power in (SHUTDOWN, CRASHED, SUSPENDED):
            actions.append(Action('sync_stop', 'active instance is %s: recorded as stopped' % power))
        elif power in (PAUSED, NOSTATE):
            actions.append(Action('note', 'active instance is %s: left alone' % power))
    elif vm == st.STOPPED:
        if power not in (NOSTATE, SHUTDOWN, CRASHED):
            actions.append(Action('force_stop', 'stopped instance is %s: forced off' % power))
    elif vm == st.PAUSED:
        if power in (SHUTDOWN, CRASHED):
            actions.append(Action('force_stop', 'paused instance is %s: forced off' % power))
    elif vm in (st.SOFT_DELETED, st.DELETED):
        if power not in (NOSTATE, SHUTDOWN):
            actions.append(Action('note', 'WARNING: %s instance is %s' % (vm, power)))
    return actions
