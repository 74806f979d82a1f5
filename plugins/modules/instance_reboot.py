#!/usr/bin/python
# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: instance_reboot
short_description: Soft or hard reboot of an instance, with Nova's ACPI-then-hard fallback and repair
version_added: 0.1.0
description:
  - Reboots one instance on the hypervisor the task runs on, like Nova's C(reboot_instance).
  - The reboot is refused, and nothing is changed, when the instance record is locked
    (see O(novalite.compute.libvirt_instance#module:locked)) or its state does not allow it - a soft
    reboot needs vm_state V(active) or V(stopped) and no task in progress; a hard reboot also accepts
    V(paused), V(suspended) and V(error) and may take over an interrupted reboot. Building, deleted and
    resized instances, and instances with a resize or migration in progress, are refused.
  - The task states are saved in order, each only if the previous one is still on disk (Nova's
    C(expected_task_state)) - soft V(rebooting), V(reboot_pending), V(reboot_started); hard
    V(rebooting_hard), V(reboot_pending_hard), V(reboot_started_hard); then none, with vm_state V(active).
  - B(Soft) presses the ACPI power button and watches the domain for up to O(soft_timeout) seconds.
    When the guest has powered off it is started again; when a new domain id is already running the
    guest rebooted itself. If neither happens in time the module falls back to a hard reboot and
    says so in RV(fallback). A soft reboot of an instance that is not running goes the hard way,
    which starts it.
  - B(Hard) is the repair path. It destroys the domain (never a disk), recreates what is missing from the
    instance record - the base image behind the root overlay (fetched again, checksum checked), an empty
    ephemeral disk, swap, the config drive (without the admin password, which is never stored) - writes
    the guest XML again from the record (not from the live domain), redefines the domain and starts it.
    It works after the domain was undefined behind our back, after C(libvirt.xml) was deleted, and on
    a stopped instance. A missing root disk is reported, never rebuilt.
  - If the reboot fails while the guest still runs, vm_state stays V(active) and the fault is recorded;
    otherwise vm_state becomes V(error). Either way the task fails and the action log has the error.
  - Rescue is not supported by this collection, so there is no rescued state to keep.
author:
  - novalite.compute contributors (@novalite)
extends_documentation_fragment:
  - novalite.compute.hypervisor
  - novalite.compute.image_fetch
  - novalite.compute.wait_timeout
attributes:
  check_mode:
    support: full
    description: Reports the plan (requested type, how the reboot would start and why) without acting.
  diff_mode:
    support: none
    description: A reboot changes no declared field, so there is nothing to diff.
  idempotent:
    support: none
    description: A reboot is an action; every run that is not refused reboots and reports a change.
options:
  name:
    description:
      - Name of the instance, looked up in the records of this host.
      - One of O(name) and O(uuid) is required.
    type: str
  uuid:
    description:
      - UUID of the instance. When given together with O(name), both must match the record.
    type: str
  type:
    description:
      - V(soft) asks the guest to shut down (ACPI) and starts it again; V(hard) power-cycles and
        rebuilds the guest definition.
    type: str
    choices: [soft, hard]
    default: soft
  soft_timeout:
    description:
      - Seconds to wait for the guest to go down after the ACPI power button before falling back to a
        hard reboot (Nova's C(wait_soft_reboot_seconds)).
    type: int
    default: 120
notes:
  - Runs on the hypervisor that holds the instance record; use C(delegate_to) from a play over instances.
  - The playbook C(novalite.compute.rolling_reboot) reboots every instance of an inventory group, in batches.
seealso:
  - module: novalite.compute.libvirt_instance
  - module: novalite.compute.state_reconcile
'''

EXAMPLES = r'''
- name: Soft reboot, falling back to hard after two minutes
  novalite.compute.instance_reboot:
    name: web1

- name: Hard reboot to repair an instance whose domain or XML was lost
  novalite.compute.instance_reboot:
    name: web1
    type: hard

- name: Reboot instances from a play over them, on their hypervisor
  novalite.compute.instance_reboot:
    name: "{{ inventory_hostname }}"
    soft_timeout: 60
  delegate_to: "{{ novalite_hypervisor }}"
'''

RETURN = r'''
plan:
  description: What the reboot does (or, in check mode, would do).
  returned: always
  type: dict
  contains:
    type:
      description: The requested reboot type, which decides the task states.
      type: str
      sample: soft
    method:
      description: How the reboot starts - V(soft) (ACPI) or V(hard) (rebuild and power-cycle).
      type: str
      sample: soft
    reason:
      description: Why this method, for example V(the instance is not running (power state shutdown)).
      type: str
    task_states:
      description: The task states the reboot saves, in order.
      type: list
      elements: str
      sample: [rebooting, reboot_pending, reboot_started]
method:
  description: How the reboot started (as RV(plan.method)).
  returned: when rebooted
  type: str
  sample: soft
fallback:
  description: V(hard) when a soft reboot timed out or was refused by libvirt and a hard reboot followed, else null.
  returned: when rebooted
  type: str
  sample: hard
fallback_reason:
  description: Why the soft reboot gave way to a hard one.
  returned: when rebooted
  type: str
repaired:
  description:
    - What a hard reboot recreated because it was missing, for example V(domain definition),
      V(libvirt.xml), V(base image), V(disk.swap), V(disk.config), V(disk.info).
  returned: when rebooted
  type: list
  elements: str
  sample: [domain definition, libvirt.xml]
domain_id:
  description: The libvirt domain id before and after (null when not running). It changes on every boot.
  returned: when rebooted
  type: dict
  sample: {"before": 4, "after": 5}
error:
  description:
    - Class of the failure, for example V(InstanceLocked), V(InstanceInvalidState), V(InstanceNotFound), V(WaitTimeout).
    - V(InternalError) is an unexpected exception, wrapped - the class name and message of the original are in
      C(msg), its traceback in C(exception).
    - Any other name is the class of an unexpected exception raised outside an operation, with its traceback
      in C(exception).
  returned: on failure
  type: str
step:
  description: The step that failed, for example V(check lock), V(soft reboot), V(recreate files), V(start domain).
  returned: on failure
  type: str
instance:
  description:
    - The instance record after the run, with paths (see M(novalite.compute.libvirt_instance)).
    - Also returned when the reboot itself failed, showing the vm_state it left.
  returned: always, except for input errors
  type: dict
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.novalite.compute.plugins.module_utils._module.argspec import fetch_options, hypervisor_options, timeout_options
from ansible_collections.novalite.compute.plugins.module_utils._module.boundary import run_module
from ansible_collections.novalite.compute.plugins.module_utils._reboot.module import RebootModule


def main():
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str'),
            uuid=dict(type='str'),
            type=dict(type='str', default='soft', choices=['soft', 'hard']),
            **dict(timeout_options('soft_timeout', 'wait_timeout'), **hypervisor_options(), **fetch_options())
        ),
        required_one_of=[('name', 'uuid')],
        supports_check_mode=True,
    )
    for option in ('soft_timeout', 'wait_timeout', 'fetch_timeout'):
        if module.params[option] < 0:
            module.fail_json(msg='%s must not be negative' % option, error='InvalidInput', step=None)
    run_module(module, RebootModule)


if __name__ == '__main__':
    main()
