# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which round-1 actions make the reconcile playbook run its second round
(pure): those that can change what another host decides."""

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.steps import STEPS
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.policy import (
    HOST_LOCAL,
    Action,
    concerns_other_hosts,
    recover,
    sync,
)
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord

HERE, OTHER = 'hv1', 'hv2'


def actions(*kinds):
    return list(kinds)


ROWS = [
    # nothing, or only notes: never
    ((), False, HERE, False),
    (('note',), True, OTHER, False),
    # host-local corrections of an instance of this host, not in a move
    (('record_power_state',), False, HERE, False),
    (('reboot', 'record_power_state'), False, HERE, False),
    (('start',), False, HERE, False),
    (('stop',), False, HERE, False),
    (('sync_stop',), False, HERE, False),
    (('force_stop',), False, HERE, False),
    (('resume',), False, HERE, False),
    # a cleared task state: the power sync waits for the next pass (round 2)
    (('clear_task_state', 'note'), False, HERE, True),
    # a deletion, an error or a destroy can change another host's ownership view
    (('complete_deletion',), False, HERE, True),
    (('finish_deletion',), False, HERE, True),
    (('set_error',), False, HERE, True),
    (('destroy_domain',), False, HERE, True),
    (('record_power_state', 'remove_leftovers'), False, HERE, True),
    # anything done to an instance in a move, or owned by another host
    (('record_power_state',), True, HERE, True),
    (('clear_task_state',), True, HERE, True),
    (('confirm_migration',), True, HERE, True),
    (('record_power_state',), False, OTHER, True),
    (('destroy_domain',), False, OTHER, True),
]


@pytest.mark.parametrize('kinds, in_move, owner, expected', ROWS)
def test_what_needs_the_second_round(kinds, in_move, owner, expected):
    assert concerns_other_hosts(actions(*kinds), in_move, owner, HERE) is expected


def test_every_move_step_and_every_unknown_kind_needs_it():
    """Only the listed host-local kinds stay local: any step of a move (and any kind added later) needs round 2."""
    assert HOST_LOCAL < set(Action.KINDS)
    for kind in set(STEPS['reconcile']) - HOST_LOCAL:
        assert concerns_other_hosts(actions(kind), False, HERE, HERE), kind


OBSERVED = {'defined': True, 'instance_dir': True, 'resize_dir': False, 'leftovers': []}


@pytest.mark.parametrize('vm_state, task_state, power', [
    ('active', 'image_snapshot', 'shutdown'),
    ('active', 'resize_prep', 'crashed'),
    ('stopped', 'image_uploading', 'running'),
    ('active', 'powering-off', 'running'),
    ('stopped', 'powering-on', 'shutdown'),
    ('active', 'rebooting', 'shutdown'),
    ('active', 'reboot_started_hard', 'running'),
])
def test_a_recovery_judged_local_leaves_no_sync_for_a_later_pass(vm_state, task_state, power):
    """In mode both the sync runs only in a pass whose recovery changes
    nothing. A recovery whose kinds are all host-local must leave the record
    as the sync would want it; any other says round 2 is needed."""
    record = InstanceRecord({'uuid': 'u1', 'name': 'vm1', 'host': HERE, 'vm_state': vm_state,
                             'task_state': task_state, 'power_state': power})
    observed = dict(OBSERVED, power_state=power)
    recovery = recover(record, observed, HERE, HERE, False)
    kinds = [a.kind for a in recovery]
    if not concerns_other_hosts(kinds, False, HERE, HERE) and any(k != 'note' for k in kinds):
        settled = {'stop': 'stopped', 'sync_stop': 'stopped', 'force_stop': 'stopped', 'start': 'active',
                   'resume': 'active', 'reboot': 'active'}
        acted = [settled[k] for k in kinds if k in settled]
        after_vm = acted[-1] if acted else vm_state
        # a power action leaves the domain as its vm_state says; anything else leaves it as it was
        after_power = ('running' if after_vm == 'active' else 'shutdown') if acted else power
        after = InstanceRecord({'uuid': 'u1', 'name': 'vm1', 'host': HERE, 'vm_state': after_vm, 'task_state': None,
                                'power_state': after_power})
        assert not [a for a in sync(after, dict(observed, power_state=after_power), HERE, HERE)
                    if a.kind != 'note'], (kinds, after_vm)
