# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs shared by the modules. Each function has its doc fragment
in plugins/doc_fragments/ (named in its docstring), unless the modules
document the options differently (then each module documents them).
"""

from __future__ import annotations


def flavor_options():
    """The suboptions of ``flavor`` (libvirt_instance, instance_migrate; the
    ``novalite.compute.flavor`` doc fragment, each module adding its own
    description of what the flavor is for)."""
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
    """uri, instances_path, compute_host, lock_timeout (the
    ``novalite.compute.hypervisor`` doc fragment)."""
    return dict(
        uri=dict(type='str', default='qemu:///system'),
        instances_path=dict(type='path', default='/var/lib/novalite/instances'),
        compute_host=dict(type='str'),
        lock_timeout=dict(type='float', default=300),
    )


# Every timeout a module takes, with its default, declared once.
TIMEOUTS = {
    'wait_timeout': 120,        # seconds for a started domain to run (every module)
    'shutdown_timeout': 60,     # seconds for a clean ACPI power-off before destroy
    'soft_timeout': 120,        # seconds for a soft reboot before falling back to hard
}


def timeout_options(*names):
    """The named timeouts (int seconds), in the order given. ``wait_timeout``
    has the ``novalite.compute.wait_timeout`` doc fragment where modules
    document it alike; the others each module documents (they say which of
    its steps they bound)."""
    return dict((name, dict(type='int', default=TIMEOUTS[name])) for name in names)
