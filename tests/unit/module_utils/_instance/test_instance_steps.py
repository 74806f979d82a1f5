"""libvirt_instance's step table: every step the policy can plan has a
prediction and an execution, and nothing else is in the table."""

import ast
import inspect

from ansible_collections.novalite.compute.plugins.module_utils._instance import policy
from ansible_collections.novalite.compute.plugins.module_utils._instance.steps import STEPS, predict


def planned_names():
    """The names of every ``Step(...)`` the policy builds (read from its source)."""
    names = set()
    for node in ast.walk(ast.parse(inspect.getsource(policy))):
        if isinstance(node, ast.Call) and getattr(node.func, 'id', None) == 'Step':
            names.add(node.args[0].value)
    return names


def test_the_table_has_exactly_the_steps_the_policy_plans():
    assert planned_names() == set(STEPS)


def test_each_row_predicts_with_the_policy_and_executes_outside_it():
    for name, kind in STEPS.items():
        assert kind.predict is getattr(policy, 'predict_' + name)
        assert inspect.getmodule(kind.execute).__name__.endswith('._instance.steps')


def test_check_mode_prediction_chains_the_rows_in_plan_order():
    before = {'state': 'stopped', 'vm_state': 'stopped', 'power_state': 'shutdown', 'flavor': {}, 'metadata': {},
              'locked': False}
    after = predict(before, [policy.Step('start'), policy.Step('lock')], {})
    assert after['state'] == 'running' and after['power_state'] == 'running' and after['locked'] is True
