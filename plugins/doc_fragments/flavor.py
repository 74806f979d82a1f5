# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doc of ``flavor``'s fields (argument spec ``_module.argspec.flavor_options``).
Each module that takes a flavor says in its own ``flavor.description``
what the flavor is for there (build with it, or resize to it); Ansible
merges that description over this one and keeps these fields."""

from __future__ import annotations


class ModuleDocFragment(object):
    DOCUMENTATION = r'''
options:
  flavor:
    description: The instance's resources.
    type: dict
    suboptions:
      name:
        description: Optional flavor name, kept in the record.
        type: str
      vcpus:
        description: Number of virtual CPUs.
        type: int
        required: true
      memory_mb:
        description: Memory in MiB.
        type: int
        required: true
      root_gb:
        description:
          - Root disk size in GiB.
          - When an instance is built (M(novalite.compute.libvirt_instance)), V(0) keeps the image's virtual size
            and an image whose virtual size is larger is refused.
          - A resize (M(novalite.compute.libvirt_instance) or M(novalite.compute.instance_migrate)) never
            shrinks it - a size below the current one, V(0) included when the disk has a size, is refused.
        type: int
        default: 0
      ephemeral_gb:
        description:
          - Size of C(disk.local) in GiB, formatted ext4 with label C(ephemeral0). V(0) for none.
          - It never shrinks - a resize to a smaller size is refused.
        type: int
        default: 0
      swap_mb:
        description: Size of C(disk.swap) in MiB, formatted as swap. V(0) for none. A resize recreates it, never copies it.
        type: int
        default: 0
'''
