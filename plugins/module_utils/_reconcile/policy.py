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
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import OFF_STATES, PowerState
from ansible_collections.novalite.compute.plugins.module_utils._common.steps import STEPS
from ansible_collections.novalite.compute.plugins.module_utils._reboot.policy import (
    ALLOW_HARD_REBOOT,
    ALLOW_SOFT_REBOOT,
    reboot_type,
)

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


# kinds that settle an instance on this host alone: once done, the record
# and the domain agree and no other host's reconcile decides anything
# differently. Not clear_task_state: in mode both the power sync waits for a
# pass in which recovery changes nothing, so it leaves work for round 2.
HOST_LOCAL = frozenset(('record_power_state', 'sync_stop', 'force_stop', 'start', 'stop', 'resume', 'reboot'))


def concerns_other_hosts(kinds, in_move, owner, this_host):
    """Whether doing the actions of ``kinds`` (their names) can leave work
    for the reconcile playbook's second round: any change to an instance in
    an unfinished move (``in_move``) or owned by another host, and any
    change other than a host-local one (``HOST_LOCAL``: a power correction,
    a power recovery, a reboot) to the others."""
    changing = [kind for kind in kinds if kind != 'note']
    if in_move or owner != this_host:
        return bool(changing)
    return any(kind not in HOST_LOCAL for kind in changing)


# kinds that only correct the record (sync_stop: when the domain is already off)
RECORD_ONLY = frozenset(('note', 'record_power_state', 'set_error', 'clear_task_state'))


def only_records(actions, power_state):
    """Whether carrying out ``actions`` writes the instance record and
    nothing else (no domain, file or other host is touched): those are
    made durable in batches. ``power_state``: the label libvirt reports
    now (None: no domain)."""
    off = power_state is None or PowerState.from_label(power_state) in OFF_STATES
    return all(a.kind in RECORD_ONLY or (a.kind == 'sync_stop' and off) for a in actions)


def _migration_in_flight(record):
    status = (record.migration or {}).get('status')
    return status is not None and status not in ms.TERMINAL


class _Case(object):
    """One instance as ``recover()`` sees it. ``task`` starts as the
    record's task_state and is cleared when a rule settles it (the rules
    after that one see an idle instance)."""

    def __init__(self, record, observed, owner, this_host, resume_guests_state_on_host_boot):
        self.record = record
        self.observed = observed
        self.owner = owner
        self.this_host = this_host
        self.resume = resume_guests_state_on_host_boot
        self.power = observed.get('power_state') if observed.get('defined') else PowerState.NOSTATE.label
        self.vm = record.vm_state
        self.task = record.task_state


# -- gates: each returns the whole answer, or None when it does not apply --
def _not_ours(case):
    if case.owner == case.this_host:
        return None
    if case.observed.get('defined') and not _migration_in_flight(case.record):
        return [Action('destroy_domain', 'instance belongs to %s; its leftover domain here is destroyed '
                                         '(disks kept)' % case.owner)]
    return [Action('note', 'instance belongs to %s: skipped' % case.owner)]


def _nothing_to_recover(case):
    if case.vm == st.SOFT_DELETED or (case.vm == st.ERROR and case.task not in (st.RESIZE_MIGRATING, st.DELETING)):
        return [Action('note', 'vm_state %s: nothing to recover' % case.vm)]
    return None


def _deleted(case):
    if case.vm != st.DELETED:
        return None
    observed = case.observed
    if observed.get('defined') or observed.get('instance_dir') or observed.get('resize_dir'):
        return [Action('complete_deletion', 'deleted instance still has a domain or files')]
    return []


def _build_interrupted(case):
    if case.vm == st.BUILDING or case.task in st.BUILD_TASK_STATES:
        return [Action('set_error', 'the build was interrupted (task_state %s)' % case.task)]
    return None


def _rebuild_interrupted(case):
    if case.vm in (st.ACTIVE, st.STOPPED) and case.task in st.REBUILD_TASK_STATES:
        return [Action('set_error', 'the rebuild was interrupted (task_state %s)' % case.task)]
    return None


_GATES = (_not_ours, _nothing_to_recover, _deleted, _build_interrupted, _rebuild_interrupted)


# -- rules: each returns one Action, or None when it does not apply --------
def _snapshot_interrupted(case):
    if case.vm != st.ERROR and case.task in st.SNAPSHOT_TASK_STATES:
        return Action('clear_task_state', 'interrupted snapshot (task_state %s)' % case.task)
    return None


def _resize_never_started(case):
    if case.vm != st.ERROR and case.task == st.RESIZE_PREP:
        return Action('clear_task_state', 'resize never left the API step (resize_prep)')
    return None


def _deletion_interrupted(case):
    if case.task == st.DELETING:
        return Action('finish_deletion', 'the deletion was interrupted')
    return None


def _reboot_interrupted(case):
    task, power = case.task, case.power
    pending_soft = task in SOFT_REBOOT_PENDING and case.vm in ALLOW_SOFT_REBOOT
    pending_hard = task in HARD_REBOOT_PENDING and case.vm in ALLOW_HARD_REBOOT
    started_not_running = task in REBOOT_STARTED and power != PowerState.RUNNING.label
    if pending_soft or pending_hard or started_not_running:
        return Action('reboot', 'interrupted reboot (task_state %s, power %s)' % (task, power),
                      type=reboot_type(task, power), from_task_state=task)
    return None


def _reboot_or_pause_finished(case):
    if case.power == PowerState.RUNNING.label and case.task in REBOOT_STARTED + (st.PAUSING, st.UNPAUSING):
        return Action('clear_task_state', 'the guest runs: the %s finished' % case.task, vm_state=st.ACTIVE)
    return None


def _power_off_interrupted(case):
    if case.task == st.POWERING_OFF:
        return Action('stop', 'the power-off was interrupted')
    return None


def _power_on_interrupted(case):
    if case.task == st.POWERING_ON:
        return Action('start', 'the power-on was interrupted')
    return None


def _migration_interrupted(case):
    if case.task == st.RESIZE_MIGRATING:
        power_on = (case.record.system_metadata or {}).get('old_vm_state') != st.STOPPED
        return Action('revert_migration', 'the migration was interrupted while copying: '
                                          'rolled back on this host', power_on=power_on)
    return None


def _resize_in_place_interrupted(case):
    record = case.record
    if case.task == st.RESIZE_FINISH and record.new_flavor and not _migration_in_flight(record):
        return Action('finish_resize', 'the in-place resize was interrupted: done again with the '
                                       'new flavor (disks only ever grow)')
    return None


def _migration_waits(case):
    if case.task in (st.RESIZE_MIGRATED, st.RESIZE_FINISH, st.RESIZE_REVERTING, st.RESIZE_CONFIRMING):
        return Action('note', 'a migration waits in task_state %s: finish, confirm or revert it '
                              'with the resize playbook' % case.task)
    return None


def _guest_to_resume(case):
    running = PowerState.RUNNING.label
    if case.record.power_state == running and case.power != running and case.task is None and case.resume:
        return Action('resume', 'the record says running, libvirt says %s: started again '
                                '(resume_guests_state_on_host_boot)' % case.power)
    return None


CLEARS_TASK = 'clears the task state; the next rules see an idle instance'
ENDS = 'the last action'

# In this order: a rule that clears the task state lets the ones below it
# see the instance as idle; the first rule that ends returns.
_RULES = (
    (_snapshot_interrupted, CLEARS_TASK),
    (_resize_never_started, CLEARS_TASK),
    (_deletion_interrupted, ENDS),
    (_reboot_interrupted, ENDS),
    (_reboot_or_pause_finished, CLEARS_TASK),
    (_power_off_interrupted, ENDS),
    (_power_on_interrupted, ENDS),
    (_migration_interrupted, ENDS),
    (_resize_in_place_interrupted, ENDS),
    (_migration_waits, ENDS),
    (_guest_to_resume, ENDS),
)


def recover(record, observed, owner, this_host, resume_guests_state_on_host_boot=False):
    """Start-up recovery of one instance (Nova's _init_instance): the first
    gate that applies answers alone; otherwise the rules, in order."""
    case = _Case(record, observed, owner, this_host, resume_guests_state_on_host_boot)
    for gate in _GATES:
        answer = gate(case)
        if answer is not None:
            return answer
    actions = []
    for rule, then in _RULES:
        action = rule(case)
        if action is None:
            continue
        actions.append(action)
        if then is ENDS:
            return actions
        case.task = None
    return actions


def sync(record, observed, owner, this_host):
    """Power-state sync of one instance (Nova's _sync_instance_power_state)."""
    power = observed.get('power_state') if observed.get('defined') else PowerState.NOSTATE.label
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
        if power in (PowerState.SHUTDOWN.label, PowerState.CRASHED.label, PowerState.SUSPENDED.label):
            actions.append(Action('sync_stop', 'active instance is %s: recorded as stopped' % power))
        elif power in (PowerState.PAUSED.label, PowerState.NOSTATE.label):
            actions.append(Action('note', 'active instance is %s: left alone' % power))
    elif vm == st.STOPPED:
        if power not in (PowerState.NOSTATE.label, PowerState.SHUTDOWN.label, PowerState.CRASHED.label):
            actions.append(Action('force_stop', 'stopped instance is %s: forced off' % power))
    elif vm == st.PAUSED:
        if power in (PowerState.SHUTDOWN.label, PowerState.CRASHED.label):
            actions.append(Action('force_stop', 'paused instance is %s: forced off' % power))
    elif vm in (st.SOFT_DELETED, st.DELETED):
        if power not in (PowerState.NOSTATE.label, PowerState.SHUTDOWN.label):
            actions.append(Action('note', 'WARNING: %s instance is %s' % (vm, power)))
    return actions
