# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a drain moves each instance off a host, pure: from the instances
hypervisor_info reports (their vm_state, task_state, locked flag and the
power state libvirt reported at that look) and the drain's mode, a move for each one -
live, cold, or none with the reason it stays. No libvirt, no Ansible."""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common import states as st

MODES = ('auto', 'live', 'cold')

# vm_states a drain leaves in place, and why
STAYS = {
    st.ERROR: 'it is in error (repair it, then drain again)',
    st.BUILDING: 'its build never finished',
    st.RESIZED: 'a resize waits for its confirm or revert',
    st.RESCUED: 'it is rescued',
    st.SOFT_DELETED: 'it is soft-deleted',
    st.DELETED: 'it is deleted',
}
# vm_states whose domain keeps its memory: only a live move keeps that
HOLDS_MEMORY = (st.PAUSED, st.SUSPENDED)


def _runs(instance):
    """Whether libvirt saw the domain running (the record alone may be stale)."""
    return instance.get('vm_state') == st.ACTIVE and instance.get('power_state') == 'running'


def _stays(instance, mode):
    """Why ``instance`` is not moved by a drain in ``mode``; None when it is."""
    if instance.get('task_state'):
        return 'an operation is in progress (task_state %s)' % instance['task_state']
    vm_state = instance.get('vm_state')
    if vm_state in STAYS:
        return STAYS[vm_state]
    if vm_state in HOLDS_MEMORY:
        return 'it is %s: neither a live nor a cold move keeps its memory state (resume or stop it first)' % vm_state
    if vm_state not in (st.ACTIVE, st.STOPPED):
        return 'vm_state %s is not one a drain moves' % vm_state
    if instance.get('locked'):
        return 'it is locked (unlock it with libvirt_instance locked=false)'
    if vm_state == st.ACTIVE and not _runs(instance):
        # a cold move would start it on the destination (it is recorded
        # active), and a guest libvirt holds paused would lose its memory
        return 'recorded active, but libvirt reports %s: run the reconcile playbook (it syncs the record), ' \
               'then drain again' % (instance.get('power_state') or 'no domain')
    if mode == 'live' and not _runs(instance):
        return 'mode live moves only running instances (this one is %s)' % vm_state
    return None


def _how(instance, mode):
    if mode == 'cold':
        return 'cold', 'mode cold'
    if _runs(instance):
        return 'live', 'running'
    return 'cold', 'stopped'


def drain_plan(instances, mode='auto'):
    """One entry per instance, in the order given: ``name``, ``uuid``,
    ``how`` (``live``, ``cold`` or None when it stays) and ``reason``.

    auto moves what libvirt sees running live and what is stopped cold;
    live moves only what runs; cold moves both cold. Whatever mode, an
    instance stays when an operation is in progress, when it is in error,
    building, resized (a confirm pending), rescued, deleted, paused,
    suspended or locked, and when it is recorded active while libvirt
    reports its domain not running (the record is stale: reconcile first)."""
    if mode not in MODES:
        raise ValueError('mode must be one of %s, got %r' % (', '.join(MODES), mode))
    plan = []
    for instance in instances:
        stays = _stays(instance, mode)
        how, reason = (None, stays) if stays else _how(instance, mode)
        plan.append({'name': instance.get('name'), 'uuid': instance.get('uuid'), 'how': how, 'reason': reason})
    return plan
