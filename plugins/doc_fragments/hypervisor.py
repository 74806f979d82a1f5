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
  lock_timeout:
    description:
      - Seconds to wait for another operation on the same instance to finish
        before failing.
    type: float
    default: 300
requirements:
  - libvirt-python
  - lxml
  - qemu-img
'''
