# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How a drain moves each instance (pure), one row per case, and the
filter the host_maintenance role calls it through."""

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.novalite.compute.plugins.filter.drain import FilterModule
from ansible_collections.novalite.compute.plugins.module_utils._host.drain_policy import drain_plan


def instance(vm_state='active', power_state='running', task_state=None, name='vm1'):
    return {'uuid': 'u-' + name, 'name': name, 'vm_state': vm_state, 'task_state': task_state,
            'power_state': power_state}


# (instance, mode, how, words in the reason)
ROWS = [
    (instance(), 'auto', 'live', 'running'),
    (instance('stopped', 'shutdown'), 'auto', 'cold', 'stopped'),
    (instance('stopped', None), 'auto', 'cold', 'stopped'),
    # the record says active, libvirt does not: a live move would be refused, a
    # cold one would start it on the destination (or lose a paused guest's memory)
    (instance('active', 'shutdown'), 'auto', None, 'libvirt reports shutdown: run the reconcile playbook'),
    (instance('active', 'crashed'), 'auto', None, 'libvirt reports crashed'),
    (instance('active', None), 'auto', None, 'no domain'),
    (instance('active', 'paused'), 'auto', None, 'libvirt reports paused'),
    (instance('active', 'paused'), 'cold', None, 'libvirt reports paused'),
    (instance('active', 'shutdown'), 'live', None, 'libvirt reports shutdown'),
    (instance(), 'live', 'live', 'running'),
    (instance('stopped', 'shutdown'), 'live', None, 'mode live moves only running'),
    (instance(), 'cold', 'cold', 'mode cold'),
    (instance('stopped', 'shutdown'), 'cold', 'cold', 'mode cold'),
    (dict(instance(), locked=True), 'auto', None, 'locked'),
    (dict(instance('stopped', 'shutdown'), locked=True), 'cold', None, 'locked'),
    # whatever the mode, these stay
    (instance(task_state='rebooting'), 'auto', None, 'task_state rebooting'),
    (instance('error', task_state='migrating'), 'auto', None, 'task_state migrating'),
    (instance('error', 'shutdown'), 'auto', None, 'in error'),
    (instance('error', 'running'), 'cold', None, 'in error'),
    (instance('building', None), 'auto', None, 'build never finished'),
    (instance('resized', 'running'), 'auto', None, 'confirm or revert'),
    (instance('rescued', 'running'), 'auto', None, 'rescued'),
    (instance('deleted', None), 'cold', None, 'deleted'),
    (instance('soft-delete', None), 'auto', None, 'soft-deleted'),
    (instance('paused', 'paused'), 'auto', None, 'paused'),
    (instance('suspended', 'shutdown'), 'live', None, 'suspended'),
    (instance('pending', None), 'auto', None, 'vm_state pending'),
]


@pytest.mark.parametrize('inst, mode, how, words', ROWS)
def test_each_instance_moves_live_cold_or_stays_with_its_reason(inst, mode, how, words):
    (entry,) = drain_plan([inst], mode)
    assert (entry['name'], entry['uuid'], entry['how']) == (inst['name'], inst['uuid'], how)
    assert words in entry['reason']


def test_every_instance_has_one_entry_in_order_so_none_is_counted_twice():
    """An instance both busy and in error is one entry (the report used to list it twice)."""
    given = [instance(name='a'), instance('error', task_state='deleting', name='b'), instance('stopped', name='c')]
    plan = drain_plan(given, 'auto')
    assert [(e['name'], e['how']) for e in plan] == [('a', 'live'), ('b', None), ('c', 'cold')]
    assert drain_plan([], 'auto') == []


def test_an_unknown_mode_is_refused():
    with pytest.raises(ValueError, match='mode must be one of auto, live, cold'):
        drain_plan([instance()], 'fast')


def test_the_filter_applies_the_rule_and_refuses_bad_input():
    drain = FilterModule().filters()['drain_plan']
    assert drain([instance()]) == drain_plan([instance()], 'auto')
    assert drain([instance()], 'cold')[0]['how'] == 'cold'
    for bad in ({'name': 'vm1'}, ['vm1'], None):
        with pytest.raises(AnsibleFilterError, match='must be a list of instances'):
            drain(bad)
    with pytest.raises(AnsibleFilterError, match="got 'fast'"):
        drain([instance()], 'fast')
