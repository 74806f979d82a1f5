#!/usr/bin/python
# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: state_reconcile
short_description: Recover interrupted operations and bring instance records in line with libvirt
version_added: 0.1.0
description:
  - Runs on one hypervisor. Reads every instance record of the host and every libvirt domain (one
    C(listAllDomains) call), decides per instance with two pure decision tables, then acts instance by
    instance, each under its lock and decided again from what is there at that moment.
  - O(mode=recover) is Nova's C(_init_instance) - an interrupted build becomes V(error); an interrupted
    reboot is retried (a soft reboot that got as far as powering off becomes hard), or its task state
    cleared when the guest already runs; an interrupted power-off or power-on is done again; an interrupted
    deletion is finished, a partial one completed; an in-place resize is finished; snapshot task states are
    cleared; a domain left here of an instance that belongs to another host is destroyed (its disks are
    kept); with O(resume_guests_state_on_host_boot) an instance recorded as running whose domain is not
    running is started again by a hard reboot (with the hard reboot's task states, so that one cut short
    is recovered like any reboot).
  - O(mode=sync) is Nova's C(_sync_instance_power_state) - instances with a task in progress or owned by
    another host are skipped; the observed power state is recorded; an active instance found shut off,
    crashed or suspended is recorded as stopped; a stopped instance found running is forced off; a paused
    one found shut off is recorded as stopped; deleted instances found running are only reported.
  - Moves (cold migration and resize) are recovered on both of their hosts, judged from every copy of the
    migration record and from whether the destination holds the instance record (the source sends it last) -
    a confirm or revert cut short is completed; a move whose hand-over completed is finished on the
    destination (V(resized), awaiting confirm, as Nova's VERIFY_RESIZE) and the source's record follows;
    a move whose hand-over never completed is rolled back - the source's copy restored, the destination's
    copy, probe file and capacity claim removed, both migration records closed (V(error)) so that the
    instance can be moved again. When the host that could tell did not report, nothing is done about that
    move (it is listed with outcome V(unknown)). Give O(fleet) (the playbook C(novalite.compute.reconcile)
    does) so that each host sees the others' reports; without it a host judges from its own records only.
  - O(mode=recover) and O(mode=both) also remove the files interrupted writes left behind (RV(leftovers)) -
    C(.tmp-*) files in C(_records), C(_migrations) and C(_base), partial images in C(_base), probe files of
    finished moves, action logs of builds that never wrote a record, and C(.tmp) files in instance
    directories; never a file that a running operation is writing.
  - O(mode=both) recovers first and syncs the instances recovery left alone.
  - One failing instance never stops the others; failures are listed in RV(results) and the module only
    fails at the end when O(fail_on_error) is set.
author:
  - novalite.compute contributors (@novalite)
extends_documentation_fragment:
  - novalite.compute.hypervisor
  - novalite.compute.image_fetch
  - novalite.compute.wait_timeout
attributes:
  check_mode:
    support: full
    description: Returns the plan (RV(plan)) and changes nothing.
  diff_mode:
    support: none
    description: RV(plan) lists every action with its reason.
  idempotent:
    support: full
    description: A second run finds nothing to do.
options:
  mode:
    description: V(recover) interrupted operations, V(sync) power states, or V(both).
    type: str
    choices: [recover, sync, both]
    default: both
  owners:
    description:
      - Which host owns each instance, as decided from the records of the whole inventory
        (instance uuid -> compute_host); the playbook C(novalite.compute.reconcile) computes it.
        Without it, each record's own C(host) decides.
    type: dict
  fleet:
    description:
      - The RV(report) of state_reconcile from every hypervisor (a check-mode run is enough); the playbook
        C(novalite.compute.reconcile) gathers them. Each host then judges moves and ownership from all of
        them, and acts only on its own part. This host's own report is always read afresh.
    type: list
    elements: dict
  instances:
    description: Only these instances (names or uuids); all by default. The event rulebook uses this.
    type: list
    elements: str
  resume_guests_state_on_host_boot:
    description:
      - Start again instances recorded as running whose domain is not running (Nova's option of the same
        name), instead of recording them as stopped.
    type: bool
    default: false
  fail_on_error:
    description:
      - Fail the task (error V(ReconcileIncomplete), with the whole result) when any instance could not be
        reconciled; the others are still done.
    type: bool
    default: false
  shutdown_timeout:
    description: Seconds for a clean ACPI power-off before the domain is destroyed, when a stop is retried.
    type: int
    default: 60
seealso:
  - module: novalite.compute.instance_reboot
  - module: novalite.compute.instance_migrate
'''

EXAMPLES = r'''
- name: See what would be recovered and synced
  novalite.compute.state_reconcile:
  check_mode: true
  register: plan

- name: Recover after a host restart, starting the guests that were running
  novalite.compute.state_reconcile:
    mode: both
    resume_guests_state_on_host_boot: true

- name: Sync one instance after a libvirt event
  novalite.compute.state_reconcile:
    mode: sync
    instances: [web1]
'''

RETURN = r'''
plan:
  description:
    - Per instance - uuid, name, owner, the power state libvirt reported, and the actions decided, each with its
      reason; for an unfinished move also C(migration) - its id, source, destination, C(outcome) (V(finish),
      V(confirm), V(revert) or V(unknown)), the owner afterwards and why.
  returned: always
  type: list
  elements: dict
  sample: [{"uuid": "5b0d…", "name": "web1", "owner": "hv1", "observed_power_state": "shutdown",
            "actions": [{"action": "reboot", "type": "hard", "from_task_state": "reboot_started",
                         "reason": "interrupted reboot (task_state reboot_started, power shutdown)"}]}]
results:
  description: Per instance acted on - the actions done, or the error that stopped it.
  returned: always
  type: list
  elements: dict
others_concerned:
  description:
    - Whether what this run does (or, in check mode, would do) can leave work for another pass - a step of an
      unfinished move, a change to an instance another host owns, anything but a power correction, a power
      recovery or a reboot (a cleared task state leaves the power sync to the next pass). The reconcile playbook
      runs its second round only when some host says so (or an instance failed).
  returned: always
  type: bool
errors:
  description: How many instances failed.
  returned: always
  type: int
error:
  description:
    - Class of the failure, for example V(InvalidInput), V(HypervisorError), or V(ReconcileIncomplete) with O(fail_on_error).
    - V(InternalError) is an unexpected exception, wrapped - the class name and message of the original are in
      C(msg), its traceback in C(exception).
    - Any other name is the class of an unexpected exception raised outside an operation, with its traceback
      in C(exception).
  returned: on failure
  type: str
leftovers:
  description: Files that interrupted writes left on this host, outside instance directories (removed by a real run).
  returned: always
  type: list
  elements: str
leftovers_removed:
  description: The leftover files a real run removed.
  returned: when changed
  type: list
  elements: str
report:
  description:
    - What this host tells the others for O(fleet) - C(compute_host), C(records) (uuid, name, host, vm_state,
      task_state, power_state, updated_at, migration_id) and C(migrations) (id, instance_uuid, instance_name,
      source_compute, dest_compute, status, updated_at).
  returned: always
  type: dict
orphans:
  description: Domains of this collection (they carry its metadata) that have no record on this host.
  returned: always
  type: list
  elements: dict
records:
  description: A summary of every record on this host (uuid, name, host, vm_state, task_state, power_state, updated_at), used to decide ownership across hosts.
  returned: always
  type: list
  elements: dict
compute_host:
  description: This host's name in the records.
  returned: always
  type: str
mode:
  description: The mode that ran.
  returned: always
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.novalite.compute.plugins.module_utils._module.argspec import fetch_options, hypervisor_options, timeout_options
from ansible_collections.novalite.compute.plugins.module_utils._module.boundary import run_module
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.module import ReconcileModule


def main():
    module = AnsibleModule(
        argument_spec=dict(
            mode=dict(type='str', default='both', choices=['recover', 'sync', 'both']),
            owners=dict(type='dict'),
            fleet=dict(type='list', elements='dict'),
            instances=dict(type='list', elements='str'),
            resume_guests_state_on_host_boot=dict(type='bool', default=False),
            fail_on_error=dict(type='bool', default=False),
            **dict(timeout_options('shutdown_timeout', 'wait_timeout'), **hypervisor_options(), **fetch_options())
        ),
        supports_check_mode=True,
    )
    run_module(module, ReconcileModule)


if __name__ == '__main__':
    main()
