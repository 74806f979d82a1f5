# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""instance_reboot's module object: the one object that talks to AnsibleModule.

find the record -> observe libvirt -> plan (pure, ``_reboot.policy``) -> in
check mode report the plan; otherwise take the instance lock, read and plan
again, and reboot (``_module.runner.converge``; what each reboot method does
and what check mode reports: ``_reboot/steps.py``).
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common.ownership import check_owner
from ansible_collections.novalite.compute.plugins.module_utils._module.hypervisor import Hypervisor, OnHypervisor
from ansible_collections.novalite.compute.plugins.module_utils._module.lookup import find_instance, observe
from ansible_collections.novalite.compute.plugins.module_utils._module.runner import converge
from ansible_collections.novalite.compute.plugins.module_utils._module.views import record_view
from ansible_collections.novalite.compute.plugins.module_utils._reboot.policy import plan_reboot
from ansible_collections.novalite.compute.plugins.module_utils._reboot.reboot import Rebooter
from ansible_collections.novalite.compute.plugins.module_utils._reboot.steps import STEPS


class RebootModule(OnHypervisor):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        super().__init__(Hypervisor.from_params(self.params))
        self.rebooter = Rebooter(self.hv)

    def _assess(self):
        record = find_instance(self.store, self.params.get('name'), self.params.get('uuid'), self.paths)
        check_owner(record, self.this_host)
        return record, plan_reboot(record, self.params['type'], observe(self.host, record))

    def run(self):
        """The sequence of ``_module.runner``: look, check mode reports the
        plan; otherwise the instance lock, look again, reboot (the step of
        the plan's method, ``_reboot/steps.py``)."""
        with self.host:
            record, plan, outcome = converge(
                self.module.check_mode,
                assess=lambda _previous: self._assess(),
                act=lambda look: self._step(look, 'run'),
                report=lambda look: self._step(look, 'check'),
                locks=(lambda look: self.store.lock(look[0].uuid, look[0].name),))
            if not self.module.check_mode:
                record = self.store.load(record.uuid)
            return self._result(record, plan, outcome)

    def _step(self, look, side):
        """(record, plan, outcome) of the plan's step, checked or run."""
        record, plan = look
        return record, plan, getattr(STEPS['reboot'], side)(self, record, plan)

    def _result(self, record, plan, outcome):
        result = {'changed': True, 'plan': plan, 'instance': record_view(record, self.paths)}
        if outcome is not None:
            result.update((key, outcome[key]) for key in
                          ('method', 'fallback', 'fallback_reason', 'repaired', 'domain_id'))
        return result
