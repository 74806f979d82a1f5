#!/usr/bin/python
# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: hypervisor_info
short_description: Capacity facts of a hypervisor - resources, what its instances and moves claim, enabled or not
version_added: 0.1.0
description:
  - Runs on one hypervisor and changes nothing. Returns what the host has (memory, vCPUs, the filesystem of
    O(instances_path), virt types, CPU model and features, from libvirt's node info and capabilities), what is
    claimed of it, and whether it is enabled for placement (M(novalite.compute.hypervisor_service)).
  - Claims are counted as Nova's resource tracker counts them - the flavor of every instance whose record this
    host owns and that is not deleted; the new flavor of a move towards this host still in flight; the old
    flavor of a move away from it that is not confirmed or reverted yet; both flavors, the old and the new, of
    a same-host resize from its start until it is confirmed or reverted.
  - RV(hypervisor) is one entry of the O(novalite.compute.placement#module:hosts) option of
    M(novalite.compute.placement).
author:
  - novalite.compute contributors (@novalite)
extends_documentation_fragment:
  - novalite.compute.hypervisor
attributes:
  check_mode:
    support: full
    description: The module only reads.
  diff_mode:
    support: none
    description: The module changes nothing, so there is no diff to show.
  idempotent:
    support: full
    description: It changes nothing.
'''

EXAMPLES = r'''
- name: Capacity facts of every hypervisor
  novalite.compute.hypervisor_info:
    compute_host: "{{ inventory_hostname }}"
  register: capacity

- name: Free memory after claims
  ansible.builtin.debug:
    msg: "{{ capacity.hypervisor.memory_mb - capacity.hypervisor.used.memory_mb }} MiB"
'''

RETURN = r'''
hypervisor:
  description: The host's facts.
  returned: always
  type: dict
  contains:
    compute_host:
      description: This host's name in records.
      type: str
      sample: hv1
    hostname:
      description: The host name libvirt reports.
      type: str
    uri:
      description: The libvirt URI read.
      type: str
    instances_path:
      description: The instances_path read.
      type: str
    reachable:
      description: Always V(true) (the module answered); placement treats a host given as V(false) as unreachable.
      type: bool
    enabled:
      description: Whether placement may choose this host.
      type: bool
    disabled_reason:
      description: Why it is disabled (null when enabled or when no reason was given).
      type: str
    service_updated_at:
      description: When the service state was last set (null if never).
      type: str
    memory_mb:
      description: Memory of the host in MiB (libvirt's node info).
      type: int
    free_memory_mb:
      description: Memory free now in MiB (libvirt's free memory, not counting claims).
      type: int
    vcpus:
      description: Logical CPUs of the host.
      type: int
    disk_gb:
      description: Size of the filesystem of instances_path in GiB.
      type: float
    free_disk_gb:
      description: Free space on it now in GiB (not counting claims).
      type: float
    arch:
      description: The host CPU's architecture.
      type: str
      sample: x86_64
    virt_types:
      description: The domain types guests of that architecture can use here.
      type: list
      elements: str
      sample: [kvm, qemu]
    cpu:
      description: The host CPU - C(arch), C(model), C(vendor), C(features) (sorted), C(sockets), C(cores), C(threads).
      type: dict
    used:
      description: What is claimed - C(memory_mb), C(vcpus), C(disk_gb) (root + ephemeral + swap).
      type: dict
      sample: {"memory_mb": 4096, "vcpus": 3, "disk_gb": 40.0}
    instances:
      description: The instances this host owns (not deleted) - C(uuid), C(name), C(vm_state), C(task_state),
        C(flavor), C(virt_type), C(locked), C(server_group), C(server_group_policy) (from their metadata), and
        C(power_state), what libvirt reported for its domain at this look (V(running), V(shutdown), ...; null
        when the domain is not defined here).
      type: list
      elements: dict
    migrations:
      description: The moves that claim here - C(id), C(instance_uuid), C(instance_name), C(source_compute),
        C(dest_compute), C(status), C(migration_type).
      type: list
      elements: dict
error:
  description: Class of the failure, for example V(HypervisorError) (libvirt) or V(RecordCorrupt).
  returned: on failure
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.novalite.compute.plugins.module_utils._host.module import InfoModule
from ansible_collections.novalite.compute.plugins.module_utils._module.argspec import hypervisor_options
from ansible_collections.novalite.compute.plugins.module_utils._module.boundary import run_module


def main():
    module = AnsibleModule(argument_spec=hypervisor_options(), supports_check_mode=True)
    run_module(module, InfoModule, default_step='gather facts')


if __name__ == '__main__':
    main()
