#!/usr/bin/python
# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: hypervisor_service
short_description: Enable or disable a hypervisor for placement (Nova's service-enable and service-disable)
version_added: 0.1.0
description:
  - Sets this hypervisor's service state, kept in its own file under O(instances_path) (C(_hosts/)), one per
    compute_host, so that hosts sharing an instances_path each keep their own.
  - A disabled host is never chosen by M(novalite.compute.placement) (for new instances, C(dest_host=auto)
    moves, drains and evacuations); what runs on it keeps running, and operations that name it explicitly
    still work, as in Nova.
  - The playbook C(novalite.compute.host_maintenance) disables a host, then drains it.
author:
  - novalite.compute contributors (@novalite)
extends_documentation_fragment:
  - novalite.compute.hypervisor
options:
  enabled:
    description: V(true) to enable the host for placement, V(false) to disable it.
    type: bool
    required: true
  disabled_reason:
    description:
      - Why the host is disabled (shown by M(novalite.compute.hypervisor_info) and in placement's reasons).
      - Only with O(enabled=false); up to 255 characters, no control characters.
    type: str
attributes:
  check_mode:
    support: full
    description: Reports the change and writes nothing.
  diff_mode:
    support: full
    description: The enabled flag and the reason, before and after.
  idempotent:
    support: full
    description: Setting the state the host already has changes nothing.
'''

EXAMPLES = r'''
- name: Take hv1 out of placement for maintenance
  novalite.compute.hypervisor_service:
    compute_host: hv1
    enabled: false
    disabled_reason: firmware upgrade, ticket 4411

- name: Put it back
  novalite.compute.hypervisor_service:
    compute_host: hv1
    enabled: true
'''

RETURN = r'''
service:
  description: The service state after the run (in check mode, what it would be).
  returned: success
  type: dict
  contains:
    compute_host:
      description: The host's name in records.
      type: str
    enabled:
      description: Whether placement may choose the host.
      type: bool
    disabled_reason:
      description: Why it is disabled, or null.
      type: str
    updated_at:
      description: When the state was last set (null if it never was).
      type: str
error:
  description: Class of the failure, for example V(InvalidInput).
  returned: on failure
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.novalite.compute.plugins.module_utils._host.module import ServiceModule
from ansible_collections.novalite.compute.plugins.module_utils._module.argspec import hypervisor_options
from ansible_collections.novalite.compute.plugins.module_utils._module.boundary import run_module


def main():
    module = AnsibleModule(
        argument_spec=dict(
            enabled=dict(type='bool', required=True),
            disabled_reason=dict(type='str'),
            **hypervisor_options()
        ),
        supports_check_mode=True,
    )
    run_module(module, ServiceModule, default_step='set service state')


if __name__ == '__main__':
    main()
