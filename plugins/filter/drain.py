# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host_maintenance role's filter, over the host flow's pure rule
(``_host.drain_policy``): how a drain moves each instance of a host."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.novalite.compute.plugins.module_utils._host.drain_policy import MODES, drain_plan as _plan


def drain_plan(instances, mode='auto'):
    """For each instance hypervisor_info reported: name, uuid, how (live,
    cold, or None when it stays) and the reason."""
    if not isinstance(instances, list) or not all(isinstance(i, dict) for i in instances):
        raise AnsibleFilterError('drain_plan: the input must be a list of instances (dicts), as hypervisor_info '
                                 'returns them')
    if mode not in MODES:
        raise AnsibleFilterError('drain_plan: mode must be one of %s, got %r' % (', '.join(MODES), mode))
    return _plan(instances, mode)


class FilterModule(object):
    def filters(self):
        return {'drain_plan': drain_plan}
