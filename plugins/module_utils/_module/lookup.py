# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Finding an existing instance for the modules that act on one
(instance_reboot, instance_migrate): by uuid or by name, in this host's
records, and what libvirt says about its domain."""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import InstanceNotFound, InvalidInput
from ansible_collections.novalite.compute.plugins.module_utils._common.spec import validate_name, validate_uuid


def find_instance(store, name=None, uuid=None, paths=None):
    """The live record named ``name`` or with ``uuid`` (both must agree when
    both are given). Raises InstanceNotFound."""
    where = ' in %s' % paths.records_dir if paths is not None else ''
    if uuid:
        uuid = validate_uuid(uuid)
        record = store.load(uuid)
        if record is None or record.vm_state == states.DELETED:
            raise InstanceNotFound('no instance with uuid %s on this host%s' % (uuid, where))
        if name and record.name != name:
            raise InvalidInput('uuid %s belongs to instance %s, not %s' % (uuid, record.name, name))
        return record
    if not name:
        raise InvalidInput('name or uuid is required')
    validate_name(name)
    record = store.find_by_name(name)
    if record is None:
        raise InstanceNotFound('no instance named %s on this host%s' % (name, where))
    return record


def observed_of(guest):
    """``{'defined': bool, 'power_state': label or None}`` of a domain (or None)."""
    return {'defined': guest is not None,
            'power_state': guest.power_state().label if guest is not None else None}


def observe(host, record):
    """What libvirt shows of the record's domain (see ``observed_of``)."""
    return observed_of(host.guest_by_uuid(record.uuid))
