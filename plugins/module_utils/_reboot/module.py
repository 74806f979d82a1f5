# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""instance_reboot's engine: the one object that talks to AnsibleModule.

find the record -> observe libvirt -> plan (pure, _reboot_policy) -> in
check mode report the plan; otherwise take the instance lock, read and plan
again, and reboot.
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import NovaliteError
from ansible_collections.novalite.compute.plugins.module_utils._common.ownership import check_owner
from ansible_collections.novalite.compute.plugins.module_utils._module.hypervisor import hypervisor
from ansible_collections.novalite.compute.plugins.module_utils._module.lookup import find_instance, observe
from ansible_collections.novalite.compute.plugins.module_utils._module.views import record_view
from ansible_collections.novalite.compute.plugins.module_utils._reboot.policy import plan_reboot
from ansible_collections.novalite.compute.plugins.module_utils._reboot.reboot import Rebooter
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_cache import fetch_settings


class RebootModule(object):
    def __init__(self, module):
        self.module = module
        self.params = module.params
        self.this_host, self.paths, self.store, self.host = hypervisor(self.params)
        self.rebooter = Rebooter(self.host, self.paths, self.store, fetch=fetch_settings(self.params))

    def _assess(self):
        record = find_instance(self.store, self.params.get('name'), self.params.get('uuid'), self.paths)
        check_owner(record, self.this_host)
        return record, plan_reboot(record, self.params['type'], observe(self.host, record))

    def run(self):
        with self.host:
            record, plan = self._assess()
            if self.module.check_mode:
                return self._result(record, plan, None)
            with self.store.lock(record.uuid, record.name):
                record, plan = self._assess()
                try:
                    outcome = self.rebooter.reboot(record, plan, soft_timeout=self.params['soft_timeout'],
                                                   wait_timeout=self.params['wait_timeout'])
                except NovaliteError as exc:
                    after = self.store.load(record.uuid)
                    exc.details['instance'] = record_view(after, self.paths) if after else {}
                    exc.details['plan'] = plan
                    raise
            return self._result(self.store.load(record.uuid), plan, outcome)

    def _result(self, record, plan, outcome):
        result = {'changed': True, 'plan': plan, 'instance': record_view(record, self.paths)}
        if outcome is not None:
            result.update((key, outcome[key]) for key in
                          ('method', 'fallback', 'fallback_reason', 'repaired', 'domain_id'))
        return result
