# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs shared by the modules (documented in each module and in
the ``novalite.compute.hypervisor`` doc fragment)."""

from __future__ import annotations


def flavor_options():
    return dict(
        name=dict(type='str'),
        vcpus=dict(type='int', required=True),
        memory_mb=dict(type='int', required=True),
        root_gb=dict(type='int', default=0),
        ephemeral_gb=dict(type='int', default=0),
        swap_mb=dict(type='int', default=0),
    )


def fetch_options():
    """fetch_timeout, fetch_deadline, max_image_size, validate_certs: how
    images are fetched (the ``novalite.compute.image_fetch`` doc fragment)."""
    return dict(
        fetch_timeout=dict(type='int', default=60),
        fetch_deadline=dict(type='int', default=3600),
        max_image_size=dict(type='str'),
        validate_certs=dict(type='bool', default=True),
    )


def hypervisor_options():
    """uri, instances_path, compute_host, lock_timeout."""
    return dict(
        uri=dict(type='str', default='qemu:///system'),
        instances_path=dict(type='path', default='/var/lib/novalite/instances'),
        compute_host=dict(type='str'),
        lock_timeout=dict(type='float', default=300),
    )
