# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""instance_reboot's step table: its one step, ``reboot`` -> what check mode
reports, what the real run does. Soft or hard is not a row of this table:
it is the plan's ``method``, which ``Rebooter.reboot`` follows (and a soft
reboot may fall back to hard), so both run through the same step.

``_reboot.policy.plan_reboot`` returns the plan ``{type, method, reason,
task_states}``. Check mode reports that plan (``changed``, ``plan``, the
instance as it is) and does nothing; the real run hands the same plan to
``Rebooter.reboot`` (``_reboot/reboot.py``), which walks the three task
states of ``type`` and then reboots by ``method``:

* ``soft`` — Nova's _soft_reboot: the ACPI power button, then the domain id
  watched until it changes; a guest that does not go down within
  ``soft_timeout`` (or a libvirt that refuses) falls back to ``hard``
  (``fallback``, ``fallback_reason`` in the result).
* ``hard`` — Nova's _hard_reboot: missing files put back from the record
  (``_storage.rebuild.FileRebuilder``; ``repaired`` in the result), the
  domain destroyed, defined again from the record and started.

Not to be confused with ``_common.steps``: the registry of the crash-point
step names (``op.step(...)``: acknowledge, soft reboot, recreate files,
destroy, define domain, ...) that ``Rebooter.reboot`` passes.
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import NovaliteError
from ansible_collections.novalite.compute.plugins.module_utils._module.views import record_view


class RebootStep(object):
    """``check(engine, record, plan)``: what check mode adds to the plan it
    reports (None: nothing); ``run(engine, record, plan)``: the real run,
    returning the outcome (method, fallback, repaired, domain ids).
    ``engine`` is the RebootModule (its rebooter, store, params)."""

    def __init__(self, check, run):
        self.check = check
        self.run = run


def _report_plan(_engine, _record, _plan):
    """Check mode: the plan is the report; nothing is done."""
    return None


def _reboot(engine, record, plan):
    """The real run: ``Rebooter.reboot``; a failure carries the instance as
    it was left and the plan."""
    try:
        return engine.rebooter.reboot(record, plan, soft_timeout=engine.params['soft_timeout'],
                                      wait_timeout=engine.params['wait_timeout'])
    except NovaliteError as exc:
        after = engine.store.load(record.uuid)
        exc.details['instance'] = record_view(after, engine.paths) if after else {}
        exc.details['plan'] = plan
        raise


STEPS = {
    'reboot': RebootStep(check=_report_plan, run=_reboot),
}
