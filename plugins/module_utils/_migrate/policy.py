# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rules of cold migration and resize, pure (no libvirt, no Ansible):
who may move (Nova's check_instance_lock / check_instance_state on
resize), what a move is (resize or migration, same host or not), the disk
checks (never shrink), the capacity claim on the destination, and which
migration statuses each step accepts.
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import (
    InstanceInvalidState,
    InstanceLocked,
    InvalidInput,
    MigrationError,
)
from ansible_collections.novalite.compute.plugins.module_utils._common.flavor import flavor_values, resize_problems
from ansible_collections.novalite.compute.plugins.module_utils._common.ownership import check_owner
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import PowerState
from ansible_collections.novalite.compute.plugins.module_utils._common.units import MiB

ALLOW_MOVE = (states.ACTIVE, states.STOPPED)

# Migration statuses each step accepts, per side.
STEP_STATUSES = {
    'prep': (ms.PRE_MIGRATING,),
    'migrate': (ms.PRE_MIGRATING,),
    # finished too: a finished move whose guest died is finished again
    'finish': (ms.POST_MIGRATING, ms.FINISHED),
    'confirm': (ms.FINISHED, ms.CONFIRMING),
    # revert may undo a move at any point before it was confirmed, including
    # one whose copy was cut short (migrating) or failed (error)
    'revert': (ms.PRE_MIGRATING, ms.MIGRATING, ms.POST_MIGRATING, ms.FINISHED, ms.REVERTING, ms.ERROR),
}


def check_can_move(record, this_host):
    """Nova's resize/migrate API checks."""
    if record.locked:
        raise InstanceLocked('instance is locked; unlock it with novalite.compute.libvirt_instance locked=false',
                             instance=record.label, step='check lock')
    check_owner(record, this_host)
    if record.vm_state not in ALLOW_MOVE:
        raise InstanceInvalidState("cannot 'migrate' while in vm_state %s (allowed: %s)"
                                   % (record.vm_state, ', '.join(ALLOW_MOVE)),
                                   instance=record.label, step='check state')
    if record.task_state is not None:
        raise InstanceInvalidState("cannot 'migrate' while in task_state %s" % record.task_state,
                                   instance=record.label, step='check state')


def plan_move(record, this_host, dest_host, new_flavor=None):
    """What the move is. Raises InvalidInput (with Nova's "Unable to resize
    disk down") before anything is written."""
    check_can_move(record, this_host)
    old = flavor_values(record.flavor)
    new = flavor_values(new_flavor) if new_flavor else dict(old)
    if new_flavor and new_flavor.get('name'):
        new['name'] = new_flavor['name']
    problems = resize_problems(old, new)
    if problems:
        raise InvalidInput('; '.join(problems), instance=record.label, step='check flavor')
    resize = flavor_values(new) != old
    same_host = dest_host == this_host
    if same_host and not resize:
        raise InvalidInput('destination %s is the host the instance is on and the flavor is unchanged: '
                           'nothing to do' % dest_host, instance=record.label, step='check destination')
    return {'migration_type': 'resize' if resize else 'migration', 'same_host': same_host,
            'source_compute': this_host, 'dest_compute': dest_host,
            'old_flavor': old, 'new_flavor': new, 'old_vm_state': record.vm_state}


def claim_for(new_flavor, disks):
    """What the destination must hold: the new flavor's memory, and the disk
    bytes that will be written there (copied data plus new swap)."""
    copied = sum(d['allocated_bytes'] for d in disks if d['copy'])
    swap = (new_flavor.get('swap_mb') or 0) * MiB
    return {'memory_mb': new_flavor['memory_mb'], 'disk_bytes': copied + swap}


def check_capacity(claim, free_memory_mb, free_disk_bytes, claimed, host):
    """Nova's resource claim on the destination; raises MigrationError."""
    memory_left = free_memory_mb - claimed[0]
    disk_left = free_disk_bytes - claimed[1]
    if claim['memory_mb'] > memory_left:
        raise MigrationError('not enough memory on %s: the new flavor needs %d MiB, %d MiB are free '
                             '(after %d MiB claimed by other migrations)'
                             % (host, claim['memory_mb'], memory_left, claimed[0]), step='claim')
    if claim['disk_bytes'] > disk_left:
        raise MigrationError('not enough disk on %s: %d bytes are needed, %d are free (after %d claimed)'
                             % (host, claim['disk_bytes'], disk_left, claimed[1]), step='claim')


def check_status(migration, step, instance=None):
    """Raise MigrationError unless ``step`` may run at the migration's status."""
    allowed = STEP_STATUSES[step]
    if migration['status'] not in allowed:
        raise MigrationError("migration %s is %s; '%s' needs %s"
                             % (migration['id'], migration['status'], step, ' or '.join(allowed)),
                             instance=instance, step=step)


def vm_state_after_confirm(power_state_label):
    """Nova: the instance may have been powered on or off meanwhile."""
    return states.STOPPED if power_state_label == PowerState.SHUTDOWN.label else states.ACTIVE


def power_on_after(old_vm_state):
    return old_vm_state != states.STOPPED
