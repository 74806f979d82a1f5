# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Evacuation (Nova's ``evacuate`` -> ``rebuild_instance`` on another host),
decided without libvirt or Ansible.

The source host is down and fenced; what is known of an instance there is
its last record as read by the inventory plugin (its cache). ``refusal()``
says whether that instance may be evacuated at all; ``destination_plan()``
what the destination does, from what it holds itself:

* nothing of the instance -> **rebuild** from the image: the root disk
  starts again from the image (what was written on it is lost, as in Nova
  without shared storage); ephemeral disk and swap are new and empty; the
  config drive is made again from the record;
* the source's own record, because the instances_path (records and
  instance directories) is shared -> **rebuild** on the kept disks;
* its own record of an unfinished evacuation from that source -> **resume**
  it, the same way (the storage decision recorded at its claim);
* its own record of a finished one, or the instance is simply this host's
  -> **done**, nothing to do;
* anything else -> **refuse**, saying why.
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common import states as st

EVACUATION = 'evacuation'
EVACUABLE_VM_STATES = (st.ACTIVE, st.STOPPED, st.ERROR)
REBUILD, RESUME, DONE, REFUSE = 'rebuild', 'resume', 'done', 'refuse'


def is_evacuation(migration):
    return (migration or {}).get('migration_type') == EVACUATION


def _moving(record):
    """Why the record shows a move in flight, or None."""
    migration = record.get('migration') or {}
    task = record.get('task_state')
    status = migration.get('status')
    if task in st.RESIZE_STATES or task == st.MIGRATING or record.get('vm_state') == st.RESIZED \
            or (status is not None and status not in ms.TERMINAL):
        return 'task_state %s, migration %s %s' % (task, migration.get('id'), status)
    return None


def refusal(record, source):
    """Why the instance (``record``: its last known record, a dict) cannot
    be evacuated from ``source``, or None when it can."""
    vm, task = record.get('vm_state'), record.get('task_state')
    if record.get('host') != source:
        return 'its last known record names host %s, not %s' % (record.get('host'), source)
    if vm in (st.DELETED, st.SOFT_DELETED):
        return 'it was deleted'
    if vm == st.BUILDING or task in st.BUILD_TASK_STATES:
        return 'its build never finished on %s: create it again instead' % source
    if task == st.DELETING:
        return 'it was being deleted on %s' % source
    moving = _moving(record)
    if moving is not None:
        return ('it was in the middle of a move when %s was last read (%s): its other host may hold it; run '
                'playbooks/reconcile.yml first, which judges the move from the hosts that answer' % (source, moving))
    if vm not in EVACUABLE_VM_STATES:
        return 'vm_state %s cannot be evacuated (only %s)' % (vm, ', '.join(EVACUABLE_VM_STATES))
    return None


def abandoned(record):
    """The operation the instance was in when its host was last read, which
    the evacuation abandons (None: it was idle)."""
    return record.get('task_state')


def powered_on_after(record):
    """Whether the rebuilt instance is started: a stopped one stays stopped
    (Nova), an active or errored one runs."""
    return record.get('vm_state') != st.STOPPED


class Plan(object):
    """What the destination does: ``kind`` (rebuild, resume, done, refuse),
    why, and for a rebuild whether the disks are kept (shared storage)."""

    def __init__(self, kind, reason, shared=None, migration_id=None):
        self.kind = kind
        self.reason = reason
        self.shared = shared
        self.migration_id = migration_id

    @property
    def acts(self):
        return self.kind in (REBUILD, RESUME)

    def to_dict(self):
        return {'action': self.kind, 'reason': self.reason, 'shared_storage': self.shared,
                'migration': self.migration_id}

    def __repr__(self):
        return 'Plan(%r, shared=%r)' % (self.kind, self.shared)


def storage_reason(shared):
    if shared:
        return 'disks kept: the instances_path is shared with the source'
    return 'root disk rebuilt from the image: what was written on it since it was built is lost'


def destination_plan(cached, local, migration, source, this_host, observed):
    """The Plan on ``this_host`` for the instance whose last known record
    on ``source`` is ``cached`` (a dict). ``local``: this host's record of
    that uuid (a dict) or None; ``migration``: this host's copy of the
    migration ``local`` refers to, or None; ``observed``: ``{'root_disk',
    'instance_dir', 'defined', 'name_taken_by'}`` (``defined``: a domain of
    this uuid is here; ``name_taken_by``: the uuid of another instance here
    with the same name, or None)."""
    if observed.get('name_taken_by'):
        return Plan(REFUSE, 'another instance named %s (uuid %s) is on this host'
                    % (cached.get('name'), observed['name_taken_by']))
    if local is None or local.get('host') == source:
        if observed.get('defined'):
            return Plan(REFUSE, 'a domain with its uuid is defined on this host already: it is left alone')
    if local is None:
        refused = refusal(cached, source)
        if refused:
            return Plan(REFUSE, refused)
        if observed.get('instance_dir'):
            return Plan(REFUSE, 'this host has an instance directory for it but no record: it is left alone '
                                '(remove it if it is a leftover, then evacuate again)')
        return Plan(REBUILD, storage_reason(False), shared=False)
    if local.get('host') == source:
        refused = refusal(local, source)
        if refused:
            return Plan(REFUSE, refused)
        if not observed.get('root_disk'):
            return Plan(REFUSE, 'the instances_path is shared with %s but the root disk is not there: nothing to '
                                'rebuild from without losing it' % source)
        return Plan(REBUILD, storage_reason(True), shared=True)
    if local.get('host') != this_host:
        return Plan(REFUSE, 'this host\'s record says the instance is on %s' % local.get('host'))
    if is_evacuation(migration) and migration.get('source_compute') == source:
        if migration.get('status') in (ms.EVACUATED, ms.COMPLETED):
            return Plan(DONE, 'already evacuated here from %s' % source, migration_id=migration['id'])
        shared = bool(migration.get('shared_storage'))
        return Plan(RESUME, 'the evacuation from %s begun here did not finish: %s' % (source, storage_reason(shared)),
                    shared=shared, migration_id=migration['id'])
    return Plan(DONE, 'the instance is this host\'s already (record host %s)' % this_host)
