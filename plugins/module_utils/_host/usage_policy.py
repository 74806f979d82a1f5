# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a hypervisor's resources are claimed by (pure: plain dicts in,
plain dicts out), as Nova's resource tracker counts them:

* every instance whose record this host owns and that is not deleted holds
  its flavor (vcpus, memory, root + ephemeral + swap disk);
* a move towards this host that is still in flight (its migration here
  claims, and the record has not arrived yet) holds its new flavor;
* a move away from this host that is not confirmed or reverted yet (the
  record already left) still holds the old flavor here: the source keeps its
  copy until then, and a revert comes back to it;
* a same-host resize (or migration) holds both flavors, the old and the
  new, from its resize_prep until it is confirmed or reverted. The record
  names its migration only by id (``migration_ref``): the migration record
  with that id says that both ends are this host.

Records and migrations are the dicts this host keeps (``InstanceRecord``
fields, migration records); the result feeds placement's ``used``.
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common import states

RESOURCES = ('memory_mb', 'vcpus', 'disk_gb')
GROUP_KEYS = ('server_group', 'server_group_policy')


def flavor_claim(flavor):
    """{memory_mb, vcpus, disk_gb} a flavor holds (disk: root + ephemeral + swap)."""
    flavor = flavor or {}
    disk = (flavor.get('root_gb') or 0) + (flavor.get('ephemeral_gb') or 0) + (flavor.get('swap_mb') or 0) / 1024.0
    return {'memory_mb': flavor.get('memory_mb') or 0, 'vcpus': flavor.get('vcpus') or 0, 'disk_gb': disk}


def _add(total, claim):
    for resource in RESOURCES:
        total[resource] += claim[resource]


def _instance_view(record):
    metadata = record.get('metadata') or {}
    view = dict((field, record.get(field)) for field in ('uuid', 'name', 'vm_state', 'task_state', 'flavor', 'virt_type'))
    view['locked'] = bool(record.get('locked'))
    view.update((key, metadata.get(key)) for key in GROUP_KEYS)
    return view


def _owned(records, this_host):
    return [r for r in records if r.get('host') == this_host and r.get('vm_state') != states.DELETED]


def _same_host_resize(record, by_id, this_host):
    """Whether ``record`` is in a same-host move that still claims: resized
    or in a resize_* task, its migration (found by the id its record keeps)
    from this host to this host and not ended."""
    if record.get('vm_state') != states.RESIZED and record.get('task_state') not in states.RESIZE_STATES:
        return False
    migration = by_id.get((record.get('migration') or {}).get('id')) or {}
    return (migration.get('status') in ms.CLAIMING
            and migration.get('source_compute') == migration.get('dest_compute') == this_host)


def _claims(record, by_id, this_host):
    """The flavors ``record`` holds on this host."""
    flavor = record.get('flavor')
    if not _same_host_resize(record, by_id, this_host):
        return [flavor]
    # the record's flavor is the old one until the finish, the new one after it
    return [record.get('old_flavor') or flavor, record.get('new_flavor') or flavor]


def _moves(migrations, this_host, here):
    """(incoming, outgoing) migrations of this host that still claim."""
    incoming, outgoing = [], []
    for migration in migrations:
        if migration.get('status') not in ms.CLAIMING or migration.get('instance_uuid') in here:
            continue
        source, dest = migration.get('source_compute'), migration.get('dest_compute')
        if source == dest:
            continue
        if dest == this_host:
            incoming.append(migration)
        elif source == this_host:
            outgoing.append(migration)
    return incoming, outgoing


def host_usage(records, migrations, this_host):
    """{'used': {memory_mb, vcpus, disk_gb}, 'instances': [...], 'migrations': [...]}."""
    used = dict((resource, 0) for resource in RESOURCES)
    owned = _owned(records, this_host)
    by_id = dict((m.get('id'), m) for m in migrations if m.get('id'))
    for record in owned:
        for flavor in _claims(record, by_id, this_host):
            _add(used, flavor_claim(flavor))
    incoming, outgoing = _moves(migrations, this_host, set(r.get('uuid') for r in owned))
    for migration in incoming:
        _add(used, flavor_claim(migration.get('new_flavor') or migration.get('old_flavor')))
    for migration in outgoing:
        _add(used, flavor_claim(migration.get('old_flavor')))
    used['disk_gb'] = round(used['disk_gb'], 3)
    fields = ('id', 'instance_uuid', 'instance_name', 'source_compute', 'dest_compute', 'status', 'migration_type')
    moves = [dict((field, m.get(field)) for field in fields) for m in incoming + outgoing]
    return {'used': used, 'instances': [_instance_view(r) for r in owned], 'migrations': moves}
