# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt_instance's steps: name -> what check mode predicts, what the real
run does.

``_instance.policy.plan`` emits a list of Steps (``Step(name, **params)``);
check mode and the real run both take that same list: check mode predicts
the managed view it leaves with ``predict()`` (the pure ``predict_<name>``
of the policy), the real run carries it out with ``execute()`` (the
``_<name>`` functions below, calling the engines ``Spawner`` and
``Lifecycle``) and predicts the same way for its diff. Adding a step is
one ``plan`` rule, one prediction, one execution and one line of
``STEPS``.

Not to be confused with ``_common.steps``: that is the registry of the
crash-point step names (``op.step(...)``) of every operation, which the
engines pass inside each of these steps.
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._instance.policy import (
    is_live,
    predict_delete,
    predict_lock,
    predict_redefine,
    predict_resize,
    predict_spawn,
    predict_start,
    predict_stop,
    predict_unlock,
    predict_update_metadata,
)


class StepKind(object):
    """One step name: ``predict(after, step, desired) -> after`` (pure) and
    ``execute(engine, desired, record, guest, step) -> record``, where
    ``engine`` is the InstanceModule (its spawner, lifecycle, params)."""

    def __init__(self, predict, execute):
        self.predict = predict
        self.execute = execute


# -- what the real run does, one function per step -------------------------------
def _spawn(engine, desired, record, _guest, step):
    """Build the instance: a new record, disks from the cached image,
    config drive, domain defined and (power_on) started."""
    record = engine.new_record(desired, record)
    engine.spawner.spawn(record, power_on=step.params['power_on'],
                         admin_password=engine.params.get('admin_password'),
                         wait_timeout=engine.params['wait_timeout'])
    return record


def _delete(engine, _desired, record, guest, _step):
    """Destroy and undefine the domain, remove its files, record deleted."""
    engine.lifecycle.delete(record if is_live(record) else None, guest)
    return record


def _redefine(engine, _desired, record, _guest, _step):
    """Define the domain again from the record (it was undefined)."""
    engine.lifecycle.redefine(record)
    return record


def _start(engine, _desired, record, _guest, _step):
    engine.lifecycle.start(record, wait_timeout=engine.params['wait_timeout'])
    return record


def _stop(engine, _desired, record, _guest, _step):
    """Clean power off (the method used is returned as ``shutdown``)."""
    engine.step_results['shutdown'] = engine.lifecycle.stop(record, shutdown_timeout=engine.params['shutdown_timeout'])
    return record


def _resize(engine, _desired, record, _guest, step):
    """In-place flavor change of the powered-off instance."""
    engine.lifecycle.resize(record, step.params['flavor'])
    return record


def _update_metadata(engine, desired, record, _guest, _step):
    engine.lifecycle.update_metadata(record, desired['metadata'])
    return record


def _lock(engine, _desired, record, _guest, _step):
    engine.lifecycle.set_locked(record, True)
    return record


def _unlock(engine, _desired, record, _guest, _step):
    engine.lifecycle.set_locked(record, False)
    return record


STEPS = {
    'spawn': StepKind(predict_spawn, _spawn),
    'delete': StepKind(predict_delete, _delete),
    'redefine': StepKind(predict_redefine, _redefine),
    'start': StepKind(predict_start, _start),
    'stop': StepKind(predict_stop, _stop),
    'resize': StepKind(predict_resize, _resize),
    'update_metadata': StepKind(predict_update_metadata, _update_metadata),
    'lock': StepKind(predict_lock, _lock),
    'unlock': StepKind(predict_unlock, _unlock),
}


def predict(before, steps, desired):
    """The managed view after ``steps`` succeed (pure, for check and diff mode)."""
    after = dict(before)
    for step in steps:
        after = STEPS[step.name].predict(after, step, desired)
    return after


def execute(engine, desired, record, guest, steps):
    """Carry ``steps`` out in order; returns the record they leave."""
    for step in steps:
        record = STEPS[step.name].execute(engine, desired, record, guest, step)
    return record
