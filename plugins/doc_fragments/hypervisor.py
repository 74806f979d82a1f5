# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):
    DOCUMENTATION = r'''
options:
  uri:
    description:
      - libvirt connection URI of the hypervisor the module runs on.
    type: str
    default: qemu:///system
  instances_path:
    description:
      - Directory holding instance directories, the base image cache (C(_base)),
        the instance records (C(_records)) and locks (C(_locks)), like Nova's C(instances_path).
      - Must be traversable by the QEMU user.
    type: path
    default: /var/lib/novalite/instances
  compute_host:
    description:
      - The name of this hypervisor in instance and migration records (Nova's C(host) option) - an instance
        belongs to the host its record names. Defaults to the machine's host name.
      - Give it when several hypervisors share a host name, or to keep a name stable across renames.
    type: str
  lock_timeout:
    description:
      - Seconds to wait for another operation on the same instance to finish
        before failing (for M(novalite.compute.libvirt_instance) also for another run of the same
        instance name, for example one still building it).
    type: float
    default: 300
requirements:
  - libvirt-python
  - lxml
  - qemu-img
'''
