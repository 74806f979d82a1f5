"""instance_migrate's step table against the module's ``step`` choices."""

import ast
import inspect

from ansible_collections.novalite.compute.plugins.module_utils._migrate import steps
from ansible_collections.novalite.compute.plugins.modules import instance_migrate


def step_choices():
    source = inspect.getsource(instance_migrate.main)
    start = source.index("step=dict(")
    return ast.literal_eval(source[source.index('choices=', start) + len('choices='):source.index(']', start) + 1])


def test_every_step_the_module_accepts_has_one_row_with_a_check_and_a_run():
    assert list(steps.STEPS) == step_choices()
    for row in steps.STEPS.values():
        assert callable(row.check) and callable(row.run)


def test_the_disk_copy_is_the_migrate_step_run_by_the_source():
    run = inspect.getsource(steps.STEPS['migrate'].run)
    assert 'engine.source.migrate(' in run
