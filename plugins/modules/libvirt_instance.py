#!/usr/bin/python
# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: libvirt_instance
short_description: Build, start, stop and delete instances on a libvirt/KVM host the way nova-compute does
version_added: 0.1.0
description:
  - Declares one instance on the hypervisor the task runs on.
  - A new instance is built like Nova's C(build_and_run_instance) and C(spawn) - the image is fetched
    once into the C(_base) cache and inspected with C(qemu-img), the root disk is a qcow2 overlay
    on it, optional ephemeral and swap disks and a C(config-2) config drive are created, the guest
    XML is generated and written to C(<instances_path>/<uuid>/libvirt.xml), the domain is defined
    and started, and the module waits until libvirt reports it running.
  - Every step is persisted in the instance record on the hypervisor (vm_state, task_state,
    power_state) before it runs, and logged in the instance's action log. A failed build removes what it created
    and leaves the record in vm_state V(error) with the fault.
  - O(state=stopped) presses the ACPI power button and waits up to O(shutdown_timeout) seconds
    before destroying the domain, like Nova's power_off.
  - O(state=absent) destroys and undefines the domain (with NVRAM and managed save), removes the
    instance directory and marks the record deleted. The cached base image is kept.
  - Changing O(flavor) of an existing instance resizes it in place (powered off for the change,
    then returned to the requested state). Disks never shrink.
    Moving instances between hosts is the job of M(novalite.compute.instance_migrate).
  - O(image), O(networks), O(key_data), O(user_data), O(admin_password) and O(config_drive) apply
    when the instance is built; changing them later has no effect. O(guest_agent) also applies when the
    instance is built only; a different value on an existing instance is reported with a warning.
  - Strings that end up in the domain XML or on the config drive (O(name), O(metadata) keys and values,
    O(user_data), O(key_data), O(image.url), O(image.id), the O(networks) names and models, O(compute_host),
    O(instances_path)) must hold only characters XML 1.0 can - no control characters other than tab, newline
    and carriage return, no U+FFFE or U+FFFF, no lone surrogates. Names and metadata keys hold no control
    character at all. Anything else is refused with V(InvalidInput) before anything is written.
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
    description: Computes the same plan as a real run and reports it in RV(plan) without acting.
  diff_mode:
    support: full
    description: Shows before and after of the managed fields (state, vm_state, power_state, flavor, metadata, locked, guest_agent).
  idempotent:
    support: full
    description: A second run with the same arguments reports no change.
options:
  name:
    description:
      - Instance name, also the libvirt domain name. Must not contain C(/) or C(..), nor control characters.
      - At most 247 bytes of UTF-8 (not characters) - libvirt writes the domain to
        C(/etc/libvirt/qemu/<name>.xml.new), and a file name is at most 255 bytes.
      - Instances are found by O(uuid) if given, otherwise by this name in the records of this host.
    type: str
    required: true
  uuid:
    description:
      - Instance UUID. Generated when a new instance is built without one; later runs find the
        instance by O(name).
    type: str
  state:
    description:
      - V(running) builds the instance if needed and makes sure it runs.
      - V(stopped) builds it without starting it, or powers it off cleanly.
      - V(absent) deletes it.
    type: str
    choices: [running, stopped, absent]
    default: running
  locked:
    description:
      - Lock (V(true)) or unlock (V(false)) the instance record, like Nova's C(lock). A locked instance
        refuses every change - stop, start, resize, delete, M(novalite.compute.instance_reboot),
        M(novalite.compute.instance_migrate) - until it is unlocked.
      - V(false) unlocks before the other changes of the same task; V(true) locks after them.
        Omitted, the lock is left as it is.
    type: bool
  flavor:
    description:
      - Resources of the instance. Required to build one.
  image:
    description:
      - The image to boot from. Required to build an instance.
    type: dict
    suboptions:
      url:
        description:
          - Where to fetch the image - C(http://), C(https://) or C(file://).
          - The URL (or O(image.id)) identifies the image in the cache; publish a changed image under a new URL or id.
        type: str
        required: true
      checksum:
        description:
          - Expected checksum as C(<algorithm>:<hex digest>), for example C(sha256:9f86...).
        type: str
      format:
        description:
          - Expected disk format. The content is probed and must match.
        type: str
        choices: [raw, qcow2]
      id:
        description: Image identity for the cache, instead of the URL.
        type: str
  networks:
    description:
      - Network interfaces, in order. Each attaches to a libvirt network or a host bridge.
    type: list
    elements: dict
    default: []
    suboptions:
      network:
        description: Name of an active libvirt network.
        type: str
      bridge:
        description: Name of an existing host bridge.
        type: str
      mac:
        description: Fixed MAC address. Generated (C(fa:16:3e:xx:xx:xx)) and kept in the record if omitted.
        type: str
      model:
        description: NIC model.
        type: str
        default: virtio
  metadata:
    description:
      - Key/value metadata, written to the config drive at build time and to the domain's
        metadata. Changing it updates the record and the domain.
    type: dict
  user_data:
    description: User data for the config drive (C(openstack/latest/user_data)).
    type: str
  key_data:
    description: SSH public keys for the config drive (C(public_keys)).
    type: list
    elements: str
    default: []
  admin_password:
    description: Administrator password for the guest, written only to the config drive (never to the record or logs).
    type: str
  config_drive:
    description: Attach a C(config-2) ISO9660 config drive (IDE cdrom) holding the instance metadata.
    type: bool
    default: true
  guest_agent:
    description:
      - Give the guest a QEMU guest agent channel, like Nova's C(hw_qemu_guest_agent) image property - a virtio
        serial port named C(org.qemu.guest_agent.0) on a unix socket whose path libvirt chooses (on
        C(qemu:///system) and C(qemu:///session) alike). A qemu-guest-agent in the guest (Debian's unit starts
        when C(/dev/virtio-ports/org.qemu.guest_agent.0) appears) then answers libvirt's agent commands such as
        C(guest-ping) and C(guest-info).
      - Chosen when the instance is built and kept in its record, so every later generation of its domain XML
        keeps it - the hard reboot of M(novalite.compute.instance_reboot), a flavor change in place, a cold
        migration or resize with M(novalite.compute.instance_migrate) and its revert, the repairs of
        M(novalite.compute.state_reconcile).
      - On an existing instance a value other than the one it was built with is not applied - nothing changes
        for it (in check mode either), the task returns a warning saying so, and RV(instance.guest_agent) shows
        the value the instance has. Delete the instance and build it again to change it.
      - Not given, an instance is built without the channel, and an existing instance keeps what it has (no
        warning). Instances built before this option existed have no channel (V(false)).
      - On C(qemu:///session) libvirt puts the socket under the user's C(~/.config/libvirt/qemu/channel/); a unix
        socket path holds at most 107 bytes, so a very long home directory can make the start fail with
        C(UNIX socket path ... too long). C(qemu:///system) uses C(/var/lib/libvirt/qemu/channel/).
    type: bool
  virt_type:
    description:
      - Domain type, like Nova's C([libvirt] virt_type). V(kvm) needs hardware virtualisation;
        V(qemu) runs the guest under TCG emulation.
    type: str
    choices: [kvm, qemu]
    default: kvm
  use_cow_images:
    description: Root disk as a qcow2 overlay on the cached base (V(true)) or a full copy (V(false)).
    type: bool
    default: true
  force_raw_images:
    description: Convert non-raw images to raw when they enter the cache (Nova's C(force_raw_images)).
    type: bool
    default: false
  shutdown_timeout:
    description:
      - Seconds to wait for a clean ACPI shutdown (the power button is pressed again every 10 s)
        before the domain is destroyed. V(0) destroys at once.
    type: int
    default: 60
seealso:
  - module: novalite.compute.instance_reboot
  - module: novalite.compute.instance_migrate
'''

EXAMPLES = r'''
- name: Boot an instance from a qcow2 image
  novalite.compute.libvirt_instance:
    name: web1
    flavor:
      vcpus: 2
      memory_mb: 2048
      root_gb: 20
      swap_mb: 512
    image:
      url: https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2
      format: qcow2
    networks:
      - network: default
    key_data:
      - "{{ lookup('ansible.builtin.file', '~/.ssh/id_ed25519.pub') }}"
    metadata:
      role: web

- name: Boot an instance with a QEMU guest agent channel (hw_qemu_guest_agent)
  novalite.compute.libvirt_instance:
    name: db1
    flavor:
      vcpus: 2
      memory_mb: 4096
      root_gb: 40
    image:
      url: https://cloud.debian.org/images/cloud/bookworm/latest/debian-12-genericcloud-amd64.qcow2
      format: qcow2
    networks:
      - network: default
    guest_agent: true

- name: Stop it cleanly (ACPI, then destroy after 60 s)
  novalite.compute.libvirt_instance:
    name: web1
    state: stopped

- name: Lock it against reboots, resizes and deletion
  novalite.compute.libvirt_instance:
    name: web1
    state: stopped
    locked: true

- name: Unlock and delete it
  novalite.compute.libvirt_instance:
    name: web1
    state: absent
    locked: false
'''

RETURN = r'''
plan:
  description: The steps this run executed (or, in check mode, would execute), in order.
  returned: always
  type: list
  elements: dict
  sample: [{"step": "spawn", "power_on": true}]
shutdown:
  description: How the guest was powered off when the plan had a stop step.
  returned: when the instance was stopped
  type: str
  sample: acpi
error:
  description:
    - Class of the failure, for example V(InvalidInput), V(ImageUnacceptable), V(HypervisorError), V(WaitTimeout).
    - V(InternalError) is an unexpected exception, wrapped - the class name and message of the original are in
      C(msg), its traceback in C(exception); a build that fails so is cleaned up like any other.
    - Any other name is the class of an unexpected exception raised outside an operation, with its traceback
      in C(exception).
  returned: on failure
  type: str
  sample: ImageUnacceptable
step:
  description:
    - The step that failed, for example V(validate input) (the arguments were refused before anything was
      touched), V(fetch image), V(define domain), V(power off); null when the failure belongs to no step.
  returned: on failure
  type: str
  sample: fetch image
instance:
  description: The instance record after the run, with paths. In check mode for a new instance only RV(instance.state).
  returned: always
  type: dict
  contains:
    uuid:
      description: Instance UUID (also the domain UUID).
      type: str
      sample: 5b0d6b8e-8a6e-4cf5-9d0e-1b0b7d7b1f00
    name:
      description: Instance and domain name.
      type: str
    state:
      description: The requested state after the run - V(running), V(stopped) or V(absent).
      type: str
    vm_state:
      description: Nova vm_state - V(building), V(active), V(stopped), V(error), V(deleted), ...
      type: str
    task_state:
      description: The operation in progress, or null.
      type: str
    power_state:
      description: Power state recorded - V(running), V(shutdown), V(paused), V(crashed), V(nostate).
      type: str
    flavor:
      description: vcpus, memory_mb, root_gb, ephemeral_gb, swap_mb.
      type: dict
    image:
      description: The image the instance was built from.
      type: dict
    networks:
      description: NICs with their MAC addresses.
      type: list
      elements: dict
    metadata:
      description: Instance metadata.
      type: dict
    disks:
      description: Disk files with their device, bus and format.
      type: list
      elements: dict
    instance_dir:
      description: Directory of the instance's files.
      type: str
    xml_path:
      description: The generated guest XML (C(libvirt.xml)).
      type: str
    console_log:
      description: File receiving the guest's first serial port.
      type: str
    locked:
      description: Whether the instance is locked against changes.
      type: bool
    guest_agent:
      description:
        - Whether the instance has a QEMU guest agent channel (chosen when it was built; V(false) for instances
          built before O(guest_agent) existed).
      type: bool
    fault:
      description: The last failure (message, step, action, time), or null.
      type: dict
    host:
      description: Host name of the hypervisor that owns the instance.
      type: str
    created_at:
      description: When the record was created (UTC).
      type: str
    launched_at:
      description: When the instance first ran (UTC).
      type: str
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.novalite.compute.plugins.module_utils._instance.module import InstanceModule
from ansible_collections.novalite.compute.plugins.module_utils._module.argspec import fetch_options, flavor_options, hypervisor_options, timeout_options
from ansible_collections.novalite.compute.plugins.module_utils._module.boundary import run_module


def main():
    image_spec = dict(
        url=dict(type='str', required=True),
        checksum=dict(type='str'),
        format=dict(type='str', choices=['raw', 'qcow2']),
        id=dict(type='str'),
    )
    network_spec = dict(
        network=dict(type='str'),
        bridge=dict(type='str'),
        mac=dict(type='str'),
        model=dict(type='str', default='virtio'),
    )
    module = AnsibleModule(
        argument_spec=dict(
            name=dict(type='str', required=True),
            uuid=dict(type='str'),
            state=dict(type='str', default='running', choices=['running', 'stopped', 'absent']),
            locked=dict(type='bool'),
            flavor=dict(type='dict', options=flavor_options()),
            image=dict(type='dict', options=image_spec),
            networks=dict(type='list', elements='dict', options=network_spec, default=[],
                          mutually_exclusive=[('network', 'bridge')],
                          required_one_of=[('network', 'bridge')]),
            metadata=dict(type='dict'),
            user_data=dict(type='str'),
            key_data=dict(type='list', elements='str', default=[], no_log=False),
            admin_password=dict(type='str', no_log=True),
            config_drive=dict(type='bool', default=True),
            virt_type=dict(type='str', default='kvm', choices=['kvm', 'qemu']),
            use_cow_images=dict(type='bool', default=True),
            guest_agent=dict(type='bool'),
            force_raw_images=dict(type='bool', default=False),
            **dict(timeout_options('wait_timeout', 'shutdown_timeout'), **hypervisor_options(), **fetch_options())
        ),
        supports_check_mode=True,
    )
    run_module(module, InstanceModule)


if __name__ == '__main__':
    main()
