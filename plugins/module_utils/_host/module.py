# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module objects of the host flow, each the one object that talks to
its AnsibleModule:

* ``InfoModule`` (hypervisor_info) - the capacity facts, read only;
* ``ServiceModule`` (hypervisor_service) - enable or disable this host for
  placement (Nova's ``service-enable`` / ``service-disable --reason``).
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.novalite.compute.plugins.module_utils._common.spec import check_text
from ansible_collections.novalite.compute.plugins.module_utils._host.facts import HostFacts
from ansible_collections.novalite.compute.plugins.module_utils._module.diff import DifferenceTracker
from ansible_collections.novalite.compute.plugins.module_utils._module.hypervisor import Hypervisor, OnHypervisor

MAX_REASON = 255


class InfoModule(OnHypervisor):
    def __init__(self, module):
        self.module = module
        super().__init__(Hypervisor.from_params(module.params))

    def run(self):
        with self.host:
            return {'changed': False, 'hypervisor': HostFacts(self.hv).gather()}


def validate_reason(enabled, reason):
    if reason is None:
        return None
    if enabled:
        raise InvalidInput('disabled_reason is only given with enabled=false')
    check_text('disabled_reason', reason, controls=False)
    if not reason.strip() or len(reason) > MAX_REASON:
        raise InvalidInput('disabled_reason must be 1 to %d characters, not blank' % MAX_REASON)
    return reason


class ServiceModule(OnHypervisor):
    def __init__(self, module):
        self.module = module
        super().__init__(Hypervisor.from_params(module.params))

    def run(self):
        enabled = self.module.params['enabled']
        reason = validate_reason(enabled, self.module.params.get('disabled_reason'))
        store = HostFacts(self.hv).service()
        before = store.load()
        diff = DifferenceTracker()
        diff.add('enabled', before['enabled'], enabled)
        diff.add('disabled_reason', before['disabled_reason'], None if enabled else reason)
        after = dict(before, enabled=enabled, disabled_reason=None if enabled else reason)
        if diff.changed and not self.module.check_mode:
            after = store.save(enabled, reason)
        result = {'changed': diff.changed, 'service': after}
        if self.module._diff:
            result['diff'] = diff.get_diff()
        return result
