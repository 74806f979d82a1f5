#!/usr/bin/python
# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: instance_migrate
short_description: One step of a cold migration, resize or live migration between libvirt hosts
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
  - With O(live=true), the same steps run Nova's live migration of a running guest, with no reboot (the role
    C(novalite.compute.live_migrate) and the playbook C(novalite.compute.live_migrate) chain them). V(start)
    checks the guest is V(active) and running, records its disks and CPU and sets task_state V(migrating).
    V(prep) (destination) refuses a move this host cannot take before anything moves (virt type, networks,
    domain name, the guest CPU through libvirt's C(compareHypervisorCPU), memory and disk free), claims them,
    tells shared storage from the source's probe and, for a block migration, fetches the base image into its
    cache and pre-creates every disk empty at its size. V(migrate) (source) sends the config drive and
    console log, then runs libvirt's peer-to-peer job (C(VIR_MIGRATE_LIVE|PEER2PEER|PERSIST_DEST|UNDEFINE_SOURCE),
    plus C(NON_SHARED_INC) for a block migration), logs its progress, applies O(live_options.completion_timeout),
    hands the record over and removes the source copy; it takes the migration V(prep) returned. V(finish)
    (destination) completes it. V(revert) rolls
    a failed or aborted move back (destination, then source); V(abort) (source) aborts a running job.
    There is no V(confirm).
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
    choices: [start, prep, migrate, finish, confirm, revert, abort]
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
  live:
    description:
      - O(step=start) only. A live migration of the running guest instead of a cold migration. The flavor
        cannot change.
    type: bool
    default: false
  dest_libvirt_uri:
    description:
      - O(step=start) with O(live=true). The destination's own libvirt URI (its O(uri)); with O(dest_ssh) it
        makes the URI the source's libvirtd opens, for example V(qemu:///session) on C(user@host:port) with
        key K gives C(qemu+ssh://user@host:port/session?keyfile=K).
    type: str
    default: qemu:///system
  dest_uri:
    description:
      - O(step=start) with O(live=true). The full libvirt URI the source's libvirtd opens to reach the
        destination's (peer-to-peer), instead of the one built from O(dest_ssh) and O(dest_libvirt_uri).
    type: str
  live_options:
    description: O(step=start) with O(live=true). How the live migration runs (Nova's C([libvirt]) options).
    type: dict
    suboptions:
      completion_timeout:
        description:
          - Seconds per GiB to move (memory, plus the written disk data of a block migration; at least one
            GiB) before O(live_options.timeout_action). V(0) never times out. Nova's
            C(live_migration_completion_timeout).
        type: int
        default: 800
      timeout_action:
        description:
          - V(abort) cancels the move (the guest keeps running on the source). V(force_complete) switches to
            post-copy when O(live_options.permit_post_copy) is set, else aborts too.
        type: str
        choices: [abort, force_complete]
        default: abort
      permit_post_copy:
        description:
          - Allow post-copy (C(VIR_MIGRATE_POSTCOPY)), where the guest runs on the destination while its memory
            arrives. A failure during post-copy can lose the guest; Nova's C(live_migration_permit_post_copy).
        type: bool
        default: false
      permit_auto_converge:
        description: Let QEMU throttle the guest's vCPUs until the copy converges (C(VIR_MIGRATE_AUTO_CONVERGE)).
        type: bool
        default: false
      permit_unsafe:
        description:
          - On shared storage, let libvirt move a guest whose disks it does not recognise as safe to share
            (C(VIR_MIGRATE_UNSAFE)). libvirt recognises NFS, GFS2, OCFS2, CephFS, GPFS and a few others, and
            wants their disks with C(cache=none); on any other filesystem both hosts see (a cluster filesystem
            it does not know, a bind mount) it refuses with C(Unsafe migration). Ignored for a block migration.
        type: bool
        default: false
      bandwidth_mib:
        description: Bandwidth limit in MiB/s; V(0) is unlimited.
        type: int
        default: 0
      migration_address:
        description:
          - Address of the destination for the migration stream and the NBD disk copy (Nova's
            C(live_migration_inbound_addr)). Defaults to the O(dest_ssh.host) address. A host name, an IPv4
            or an IPv6 address (no brackets); anything else is refused.
        type: str
      poll_interval:
        description: Seconds between two reads of libvirt's job statistics.
        type: float
        default: 0.5
  migration:
    description:
      - The migration returned by O(step=start) (RV(migration)). Required for O(step=prep). The other
        steps find the migration through the instance record when it is omitted.
      - O(step=migrate) of a live migration needs the migration as the destination's V(prep) returned it,
        which carries prep's decision whether the storage is shared; the source checks it against its probe
        before anything moves.
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
  - A live migration needs the same CPU model (or a guest CPU model both hosts run), the same network names
    or bridges, the SSH trust both ways, and the destination's migration ports (QEMU's 49152-49215) reachable
    from the source. See docs/instance_migrate.md.
  - V(abort) takes no instance lock (the V(migrate) run holds it while libvirt's job runs).
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

# A live migration: ansible-playbook novalite.compute.live_migrate -e instance=web1 -e dest_host=hv2
- name: Start a live migration of web1 from hv1
  novalite.compute.instance_migrate:
    name: web1
    step: start
    live: true
    dest_host: hv2
    dest_ssh:
      host: 10.0.0.12
      user: root
      identity_file: /root/.ssh/novalite_migration
    live_options:
      completion_timeout: 300
      permit_auto_converge: true
  delegate_to: hv1
  register: started

- name: Check hv2 can take it and prepare it
  novalite.compute.instance_migrate:
    step: prep
    migration: "{{ started.migration }}"
  delegate_to: hv2
  register: prepared

- name: Run libvirt's live migration (prep's result says how the storage moves)
  novalite.compute.instance_migrate:
    name: web1
    step: migrate
    migration: "{{ prepared.migration }}"
  delegate_to: hv1

- name: Abort it from another task (the guest stays on hv1)
  novalite.compute.instance_migrate:
    name: web1
    step: abort
  delegate_to: hv1
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
      description:
        - V(pre-migrating), V(migrating), V(post-migrating), V(finished), V(confirming), V(confirmed), V(reverting),
          V(reverted) or V(error).
        - A live migration ends V(completed), V(cancelled) (aborted, the guest still on the source) or V(error).
      type: str
    migration_type:
      description: V(resize) when the flavor changes, V(live-migration) for a live migration, else V(migration).
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
  description:
    - Step V(start) - hosts, flavor change, every file with its allocated bytes and whether it is copied, total bytes to copy.
    - A live migration (V(start), V(prep)) - C(mode), C(storage) (V(block), V(shared), or unknown until V(prep)),
      C(disks), C(memory_bytes), C(disk_bytes), C(bytes_to_copy), C(completion_timeout_s) and the options.
  returned: step start, and step prep of a live migration
  type: dict
storage:
  description: Step V(prep) of a live migration - V(block) (the disks are copied over NBD) or V(shared) (memory only).
  returned: step prep of a live migration
  type: str
seconds:
  description: Step V(migrate) of a live migration - how long libvirt's job ran.
  returned: step migrate of a live migration
  type: float
post_copy:
  description: Step V(migrate) of a live migration - whether it switched to post-copy.
  returned: step migrate of a live migration
  type: bool
bytes_to_move:
  description: Step V(migrate) of a live migration - memory plus the written disk data it had to move.
  returned: step migrate of a live migration
  type: int
flags:
  description: Step V(migrate) of a live migration - the C(VIR_MIGRATE_*) flags used, without the prefix.
  returned: step migrate of a live migration
  type: list
  elements: str
last_progress:
  description: Step V(migrate) of a live migration - libvirt's last job statistics seen (data and memory totals, remaining, dirty rate).
  returned: step migrate of a live migration
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
    live_spec = dict(
        completion_timeout=dict(type='int', default=800),
        timeout_action=dict(type='str', choices=['abort', 'force_complete'], default='abort'),
        permit_post_copy=dict(type='bool', default=False),
        permit_auto_converge=dict(type='bool', default=False),
        permit_unsafe=dict(type='bool', default=False),
        bandwidth_mib=dict(type='int', default=0),
        migration_address=dict(type='str'),
        poll_interval=dict(type='float', default=0.5),
    )
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str'),
            uuid=dict(type='str'),
            step=dict(type='str', required=True,
                      choices=['start', 'prep', 'migrate', 'finish', 'confirm', 'revert', 'abort']),
            dest_host=dict(type='str'),
            flavor=dict(type='dict', options=flavor_options()),
            dest_ssh=dict(type='dict', options=ssh_spec),
            dest_instances_path=dict(type='path'),
            migration=dict(type='dict'),
            live=dict(type='bool', default=False),
            dest_libvirt_uri=dict(type='str', default='qemu:///system'),
            dest_uri=dict(type='str'),
            live_options=dict(type='dict', options=live_spec),
            **dict(timeout_options('shutdown_timeout', 'wait_timeout'), **hypervisor_options(), **fetch_options())
        ),
        required_one_of=[('name', 'uuid', 'migration')],
        required_if=[('step', 'start', ('dest_host',)), ('step', 'prep', ('migration',))],
        supports_check_mode=True,
    )
    run_module(module, MigrateModule, default_step=module.params['step'])


if __name__ == '__main__':
    main()
