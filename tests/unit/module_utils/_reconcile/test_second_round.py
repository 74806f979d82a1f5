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
)

HERE, OTHER = 'hv1', 'hv2'


def actions(*kinds):
    return [Action(kind, 'because') for kind in kinds]


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
    (('clear_task_state', 'note'), False, HERE, False),
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
