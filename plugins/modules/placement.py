#!/usr/bin/python
# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: placement
short_description: Choose hypervisors for instances - filters, then weighers (Nova's FilterScheduler)
version_added: 0.1.0
description:
  - Runs on the controller (C(delegate_to=localhost), C(run_once)) and touches no hypervisor. Takes the facts of
    the hypervisors (M(novalite.compute.hypervisor_info) results) and the instances to place, and returns a host
    for each, the weights of the hosts that passed and the reason each other host was rejected.
  - Filters, in order - excluded by the request (C(exclude_hosts) of a request, the host the instance is on now);
    unreachable; disabled (M(novalite.compute.hypervisor_service)); virt type; architecture; CPU features;
    RAM, vCPUs and disk against C(total x ratio - reserved - claimed) (O(ram_allocation_ratio),
    O(cpu_allocation_ratio), O(disk_allocation_ratio), per host overridable with C(ratios) in its facts);
    server group (hard affinity - only hosts with a member; hard anti-affinity - at most O(max_per_host)
    members per host).
  - Weighers - free RAM, vCPUs and disk, each normalised to 0..1 across the passing hosts, most free first with
    O(weigher=spread), least free first with O(weigher=pack); for soft-affinity and soft-anti-affinity groups the
    members on each host, times O(soft_group_multiplier). Ties go to the first host name.
  - A server group comes from the instance's metadata - C(server_group) (its name) and C(server_group_policy)
    (V(affinity), V(anti-affinity), V(soft-affinity) or V(soft-anti-affinity); default the policy its members
    declare, else V(anti-affinity)). The members are the instances with that group on every host given.
  - A request is refused (no host, and the reason) when its policy contradicts the one its members declare, or
    when a member declares a policy that is none of these four - the group cannot be judged, and the reason names
    that member, its host and its policy. Such a member stays in its host's view with its resources counted, and
    the requests of the other groups are placed as usual.
  - Requests are placed in the order given, and each choice is claimed before the next is placed (its resources
    and its group membership), so one call never overcommits a host and keeps anti-affinity among the new
    instances. Place every instance of a play in one call.
author:
  - novalite.compute contributors (@novalite)
options:
  hosts:
    description:
      - The candidate hypervisors - each a M(novalite.compute.hypervisor_info) C(hypervisor) result, or a dict of
        the same keys (C(compute_host), C(virt_types), C(memory_mb), C(vcpus), C(disk_gb) required; C(enabled),
        C(disabled_reason), C(reachable), C(arch), C(cpu), C(used), C(reserved), C(ratios), C(instances)
        optional).
      - A host that did not answer can be given as C({compute_host, reachable=false, ...}) so that the result
        says why it was not chosen.
    type: list
    elements: dict
    required: true
  requests:
    description:
      - The instances to place - each C(name) and C(flavor) (C(vcpus), C(memory_mb), C(root_gb), C(ephemeral_gb),
        C(swap_mb)); optional C(uuid) (an instance being moved, so that it is not counted as a member of its own
        server group), C(virt_type) (default V(kvm)), C(arch), C(cpu_features), C(metadata), C(exclude_hosts).
    type: list
    elements: dict
    required: true
  ram_allocation_ratio:
    description: Virtual RAM per physical RAM (Nova's C(ram_allocation_ratio)); default 1.0.
    type: float
  cpu_allocation_ratio:
    description: Virtual CPUs per physical CPU (Nova's C(cpu_allocation_ratio)); default 4.0.
    type: float
  disk_allocation_ratio:
    description: Virtual disk per physical disk (Nova's C(disk_allocation_ratio)); default 1.0.
    type: float
  weigher:
    description: V(spread) instances over the hosts, or V(pack) them onto the fewest.
    type: str
    choices: [spread, pack]
  max_per_host:
    description: Members of one hard anti-affinity group a host may hold (Nova's C(max_server_per_host)); default 1.
    type: int
  soft_group_multiplier:
    description: Weight of the soft-affinity and soft-anti-affinity weigher; default 1.0.
    type: float
  require_all:
    description:
      - Fail (V(NoValidHost)) when an instance fits on no host; the result, with every placement and reason, is
        returned with the failure. V(false) returns the unplaced ones in RV(unplaced) instead.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description: The module writes nothing; check mode returns the same placements.
  diff_mode:
    support: none
    description: The module changes nothing, so there is no diff to show.
  idempotent:
    support: full
    description: The same facts and requests give the same placements.
'''

EXAMPLES = r'''
- name: Facts of every hypervisor
  novalite.compute.hypervisor_info:
    compute_host: "{{ inventory_hostname }}"
  register: capacity
  delegate_to: "{{ item }}"
  loop: "{{ groups['hypervisors'] }}"
  run_once: true

- name: Place three web servers, never two on one host
  novalite.compute.placement:
    hosts: "{{ capacity.results | map(attribute='hypervisor') | list }}"
    requests:
      - {name: web1, flavor: {vcpus: 2, memory_mb: 2048, root_gb: 20}, metadata: {server_group: web}}
      - {name: web2, flavor: {vcpus: 2, memory_mb: 2048, root_gb: 20}, metadata: {server_group: web}}
      - {name: web3, flavor: {vcpus: 2, memory_mb: 2048, root_gb: 20}, metadata: {server_group: web}}
    ram_allocation_ratio: 1.5
  delegate_to: localhost
  run_once: true
  register: placed

- name: Where each went
  ansible.builtin.debug:
    var: placed.chosen
'''

RETURN = r'''
chosen:
  description: Instance name -> the host chosen (placed instances only).
  returned: always
  type: dict
  sample: {"web1": "hv2", "web2": "hv3"}
placements:
  description: One entry per request, in order.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The instance.
      type: str
    uuid:
      description: Its uuid when the request gave one.
      type: str
    host:
      description: The host chosen, or null when none fits.
      type: str
    weights:
      description: Host -> weight, for the hosts that passed every filter (the highest won).
      type: dict
    rejected:
      description: Host -> why it was rejected (the first filter it failed).
      type: dict
      sample: {"hv1": "disabled: firmware upgrade", "hv4": "needs 2048 MiB of RAM, 1024 MiB usable (...)"}
    reason:
      description: Why no host was chosen (null when one was).
      type: str
    server_group:
      description: The request's server group, or null.
      type: str
    server_group_policy:
      description: The policy applied, or null.
      type: str
unplaced:
  description: Names of the requests no host fits.
  returned: always
  type: list
  elements: str
hosts:
  description:
    - Host -> its capacity after every claim of this call - for C(memory_mb), C(vcpus) and C(disk_gb) the
      C(total), C(reserved), C(ratio), C(used) and C(usable); and C(instances), the count.
  returned: always
  type: dict
error:
  description: V(NoValidHost) when an instance fits nowhere and O(require_all) is set; V(InvalidInput) for facts or
    requests that cannot be read (the message names the host or request and the field).
  returned: on failure
  type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.novalite.compute.plugins.module_utils._module.boundary import run_module
from ansible_collections.novalite.compute.plugins.module_utils._placement.module import PlacementModule


def main():
    module = AnsibleModule(
        argument_spec=dict(
            hosts=dict(type='list', elements='dict', required=True),
            requests=dict(type='list', elements='dict', required=True),
            ram_allocation_ratio=dict(type='float'),
            cpu_allocation_ratio=dict(type='float'),
            disk_allocation_ratio=dict(type='float'),
            weigher=dict(type='str', choices=['spread', 'pack']),
            max_per_host=dict(type='int'),
            soft_group_multiplier=dict(type='float'),
            require_all=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    run_module(module, PlacementModule, default_step='place', libraries=False)


if __name__ == '__main__':
    main()
