# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""placement's module object: the one object that talks to AnsibleModule.
It only reads its arguments (the hypervisors' facts and the instances to
place) and runs the pure ``placement_policy.place``; nothing is written,
so check mode computes exactly what the real run returns."""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import NoValidHost
from ansible_collections.novalite.compute.plugins.module_utils._placement.placement_policy import place

OPTION_NAMES = ('ram_allocation_ratio', 'cpu_allocation_ratio', 'disk_allocation_ratio', 'weigher', 'max_per_host',
                'soft_group_multiplier')


class PlacementModule(object):
    def __init__(self, module):
        self.module = module

    def run(self):
        params = self.module.params
        options = dict((name, params[name]) for name in OPTION_NAMES if params.get(name) is not None)
        result = place(params['hosts'], params['requests'], options)
        result.update(changed=False,
                      chosen=dict((p['name'], p['host']) for p in result['placements'] if p['host'] is not None))
        if result['unplaced'] and params['require_all']:
            reasons = '; '.join(p['reason'] for p in result['placements'] if p['host'] is None)
            raise NoValidHost('%d of %d instance(s) fit on no host: %s'
                              % (len(result['unplaced']), len(result['placements']), reasons), **result)
        return result
