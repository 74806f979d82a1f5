#!/usr/bin/python
# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: instance_migrate
short_description: One step of a cold migration or resize between libvirt hosts, with confirm and revert
version_added: 0.1.0
description:
  - Runs one step of Nova's cold migration / resize flow on the host the task runs on. The steps run on
    alternate hosts; the role C(novalite.compute.resize) and the playbook C(novalite.compute.resize) chain
    them with C(delegate_to). Each host keeps its own migration record (C(_migrations/<id>.json)) and its own
    instance record; statuses move through V(pre-migrating), V(migrating), V(post-migrating), V(finished),
    then V(confirming)/V(confirmed) or V(reverting)/V(reverted); V(error) on failure.
  - V(start) (source) checks the instance (not locked, vm_state V(active) or V(stopped), no task) and the
    new flavor (disks never shrink - C(Unable to resize disk down)), creates the migration, sets task_state
    V(resize_prep) and returns the migration and the plan (hosts, files and bytes to copy, flavor change).
  - V(prep) (destination) checks the virt type, networks and domain name, checks and claims memory and disk
    for the new flavor, and writes a probe file that tells the source whether the storage is shared.
  - V(migrate) (source) sets V(resize_migrating), powers the guest off cleanly (ACPI, then destroy after
    O(shutdown_timeout)), renames the instance directory to C(<uuid>_resize) and copies every disk except
    C(disk.swap), plus C(disk.info) and the base image when the destination lacks it, over SSH (or locally when
    the storage is shared). Only allocated data is sent and every file is verified by sha256 on arrival.
    Then the instance record is handed to the destination (host, V(resize_migrated)). If the copy fails, the
    instance is put back as it was on the source.
  - V(finish) (destination) grows root and ephemeral disks to the new flavor, recreates swap, generates the
    guest XML, defines the domain and starts it unless the instance was stopped; vm_state V(resized).
  - V(confirm) (destination, then source) flushes the copied disks to stable storage, sets vm_state V(active)
    (V(stopped) if powered off), releases the claim, then removes C(<uuid>_resize) and the source domain.
    Confirming again changes nothing.
  - V(revert) (destination, then source) destroys the new domain and its disks (unless the storage is shared),
    moves C(<uuid>_resize) back, restores the old flavor and host, redefines the domain and starts it unless
    it was stopped. It also recovers a move whose copy was interrupted.
author:
  - novalite.compute contributors (@novalite)
extends_documentation_fragment:
  - novalite.compute.hypervisor
  - novalite.compute.image_fetch
  - novalite.compute.flavor
  - novalite.compute.wait_timeout
attributes:
  check_mode:
    support: full
    description: V(start) returns the full plan without acting; other steps report whether they would act.
  diff_mode:
    support: none
    description: The plan returned by V(start) shows the flavor change.
  idempotent:
    support: partial
    description: Repeating V(start), V(prep), V(finish), V(confirm) or V(revert) reports no change; V(migrate) runs once.
options:
  name:
    description: Name of the instance in this host's records. One of O(name), O(uuid) or O(migration) is required.
    type: str
  uuid:
    description: UUID of the instance.
    type: str
  step:
    description: The step to run on this host.
    type: str
    required: true
    choices: [start, prep, migrate, finish, confirm, revert]
  dest_host:
    description:
      - O(step=start) only. The destination's O(compute_host) name. The source's own name makes a same-host resize.
    type: str
  flavor:
    description:
      - O(step=start) only. The new flavor; omitted, the move is a plain cold migration with the same flavor.
  dest_ssh:
    description:
      - O(step=start) only. How the source reaches the destination to copy the disks (the SSH trust between
        hypervisors that Nova also needs). Key authentication, no prompts (C(BatchMode)).
    type: dict
    suboptions:
      host:
        description:
          - Address of the destination. Defaults to O(dest_host).
          - A host name, an IPv4 address or an IPv6 address without brackets, optionally after C(user@). Anything
            else (empty, a leading C(-), whitespace, control characters) is refused before anything is written;
            so is O(dest_host) when it stands in for this option.
        type: str
      user:
        description:
          - SSH user on the destination; it must be able to write the destination's instances_path.
          - Must not be empty, start with C(-) or contain whitespace or control characters.
        type: str
      port:
        description: SSH port, 1 to 65535.
        type: int
      identity_file:
        description: Private key file on the source host.
        type: path
      python:
        description: Python interpreter on the destination that runs the receiving end of the copy.
        type: str
        default: python3
  dest_instances_path:
    description: O(step=start) only. The destination's instances_path. Defaults to this host's.
    type: path
  migration:
    description:
      - The migration returned by O(step=start) (RV(migration)). Required for O(step=prep). The other
        steps find the migration through the instance record when it is omitted.
      - O(step=confirm) on the source needs the migration as the destination's confirm returned it
        (status V(confirmed)) - the source copy is only removed after the destination confirmed.
    type: dict
  shutdown_timeout:
    description: Seconds to wait for a clean ACPI power-off before the domain is destroyed (V(migrate)).
    type: int
    default: 60
  wait_timeout:
    description: Seconds to wait for the domain to be running after starting it (V(finish), V(revert)).
notes:
  - Disk bytes always cross SSH unless the probe proves the instances_path is the same storage on both hosts.
  - Confirm and revert are safe to repeat. Until confirm, the source copy in C(<uuid>_resize) is never removed.
seealso:
  - module: novalite.compute.libvirt_instance
  - module: novalite.compute.instance_reboot
'''

EXAMPLES = r'''
# Normally run through the role:  ansible-playbook novalite.compute.resize -e instance=web1 -e dest_host=hv2 ...
- name: Start a resize of web1 on its host hv1
  novalite.compute.instance_migrate:
    name: web1
    step: start
    dest_host: hv2
    dest_ssh:
      host: 10.0.0.12
      user: root
    flavor:
      vcpus: 4
      memory_mb: 4096
      root_gb: 40
  delegate_to: hv1
  register: started

- name: Prepare the destination
  novalite.compute.instance_migrate:
    step: prep
    migration: "{{ started.migration }}"
  delegate_to: hv2

- name: Copy the disks
  novalite.compute.instance_migrate:
    name: web1
    step: migrate
  delegate_to: hv1

- name: Start it on the destination
  novalite.compute.instance_migrate:
    name: web1
    step: finish
  delegate_to: hv2
'''

RETURN = r'''
step:
  description: The step that ran.
  returned: always
  type: str
compute_host:
  description: This host's name in the records.
  returned: always
  type: str
migration:
  description: The migration record as this host has it after the step.
  returned: when there is one
  type: dict
  contains:
    id:
      description: Migration id (a UUID).
      type: str
    status:
      description: V(pre-migrating), V(migrating), V(post-migrating), V(finished), V(confirming), V(confirmed), V(reverting), V(reverted) or V(error).
      type: str
    migration_type:
      description: V(resize) when the flavor changes, else V(migration).
      type: str
    source_compute:
      description: Source host.
      type: str
    dest_compute:
      description: Destination host.
      type: str
    old_flavor:
      description: Flavor before.
      type: dict
    new_flavor:
      description: Flavor after.
      type: dict
    old_vm_state:
      description: vm_state before the move; V(stopped) keeps it powered off.
      type: str
    claim:
      description: Memory (MiB) and disk (bytes) claimed on the destination.
      type: dict
    shared_storage:
      description: Whether the probe found the instances_path shared.
      type: bool
    files:
      description: Files copied with bytes sent and sha256.
      type: list
      elements: dict
plan:
  description: Step V(start) only - hosts, flavor change, every file with its allocated bytes and whether it is copied, total bytes to copy.
  returned: step start
  type: dict
bytes_copied:
  description: Step V(migrate) - bytes sent (allocated data only).
  returned: step migrate
  type: int
files:
  description: Step V(migrate) - files sent, with bytes and sha256, base image entries skipped when present.
  returned: step migrate
  type: list
  elements: dict
not_copied:
  description: Step V(migrate) - files left behind (C(disk.swap)).
  returned: step migrate
  type: list
  elements: str
shared_storage:
  description: Step V(migrate) - whether the copy stayed on shared storage.
  returned: step migrate
  type: bool
shutdown:
  description: Step V(migrate) - how the guest went off (V(acpi), V(destroy), V(already off)).
  returned: step migrate
  type: str
free:
  description: Step V(prep) - free memory (MiB) and disk (bytes) seen on the destination.
  returned: step prep
  type: dict
instance:
  description: This host's record of the instance after the step (see M(novalite.compute.libvirt_instance)).
  returned: when this host has a record of it
  type: dict
error:
  description:
    - Class of the failure, for example V(InvalidInput), V(MigrationError), V(TransferError), V(InstanceLocked).
    - V(InternalError) is an unexpected exception, wrapped - the class name and message of the original are in
      C(msg), its traceback in C(exception).
    - Any other name is the class of an unexpected exception raised outside an operation, with its traceback
      in C(exception).
  returned: on failure
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.novalite.compute.plugins.module_utils._migrate.module import MigrateModule
from ansible_collections.novalite.compute.plugins.module_utils._module.argspec import fetch_options, flavor_options, hypervisor_options, timeout_options
from ansible_collections.novalite.compute.plugins.module_utils._module.boundary import run_module


def main():
    ssh_spec = dict(
        host=dict(type='str'),
        user=dict(type='str'),
        port=dict(type='int'),
        identity_file=dict(type='path'),
        python=dict(type='str', default='python3'),
    )
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str'),
            uuid=dict(type='str'),
            step=dict(type='str', required=True, choices=['start', 'prep', 'migrate', 'finish', 'confirm', 'revert']),
            dest_host=dict(type='str'),
            flavor=dict(type='dict', options=flavor_options()),
            dest_ssh=dict(type='dict', options=ssh_spec),
            dest_instances_path=dict(type='path'),
            migration=dict(type='dict'),
            **dict(timeout_options('shutdown_timeout', 'wait_timeout'), **hypervisor_options(), **fetch_options())
        ),
        required_one_of=[('name', 'uuid', 'migration')],
        required_if=[('step', 'start', ('dest_host',)), ('step', 'prep', ('migration',))],
        supports_check_mode=True,
    )
    run_module(module, MigrateModule, default_step=module.params['step'])


if __name__ == '__main__':
    main()
