# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How an evacuation ends, judged from what the hosts report (pure; a part
of ``fleet_policy``). Nova's ``_destroy_evacuated_instances`` on the source's
return, and the destination's part of an evacuation that was cut short.

Only the destination has a copy of the migration until the source is back
(the source was down; on a shared instances_path the one copy is both
hosts'). The destination's copy and record decide:

* **evacuated** - the copy says done (or completed), or the record there is
  idle and refers to it (the finish was cut short between the two writes):
  the instance is the destination's. The source, once it reports, destroys
  its stale domain and, unless the storage is shared, removes its instance
  directory (the disks the evacuation replaced), its record then names the
  destination and its copy says completed; after that the destination
  completes its own copy.
* **evacuation rollback** - not finished, and the source reports: the
  source still has everything (its disks were never touched), so the
  instance stays the source's. The destination removes what it built (its
  domain; its instance directory unless shared), hands the record back and
  closes its copy in error.
* **evacuating** - not finished, the source does not report (still down):
  the destination's record goes to error ("run the evacuation again"),
  which resumes it.
* when the destination does not report, nothing is known and nothing done.
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common import states as st
from ansible_collections.novalite.compute.plugins.module_utils._instance.evacuation_policy import is_evacuation
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.policy import Action

EVACUATED, EVACUATION_ROLLBACK, EVACUATING = 'evacuated', 'evacuation_rollback', 'evacuating'
KINDS = (EVACUATED, EVACUATION_ROLLBACK, EVACUATING)
FINISHED_STATUSES = (ms.EVACUATED, ms.COMPLETED)

__all__ = ('EVACUATED', 'EVACUATION_ROLLBACK', 'EVACUATING', 'KINDS', 'is_evacuation', 'evacuation_outcome',
           'evacuation_actions')


def _finished_record(migration_id, dest, record):
    """Whether the destination's record (a summary) is an idle, finished
    rebuild through this evacuation."""
    return record is not None and record['host'] == dest and record.get('migration_id') == migration_id \
        and record['task_state'] is None and record['vm_state'] not in (st.ERROR, st.BUILDING)


def evacuation_outcome(copies, records, reported, outcome, unknown):
    """The Outcome of one evacuation; ``outcome(kind, reason, owner=...)``
    makes it, ``unknown`` is fleet_policy's kind for "nobody can tell"."""
    first = copies[sorted(copies)[0]]
    mid, source, dest = first['id'], first['source_compute'], first['dest_compute']
    if dest not in reported:
        return outcome(unknown, 'only %s, the destination of the evacuation, can tell how it ended, and it did not '
                                'report' % dest)
    dest_copy = copies.get(dest) or first
    source_copy = copies.get(source)
    shared = bool(dest_copy.get('shared_storage'))
    if dest_copy['status'] in FINISHED_STATUSES or _finished_record(mid, dest, records.get(dest)):
        found = outcome(EVACUATED, 'the instance was evacuated from %s to %s' % (source, dest), owner=dest)
    elif source in reported:
        found = outcome(EVACUATION_ROLLBACK, 'the evacuation from %s never finished on %s, and %s is back with '
                                             'everything: rolled back to it' % (source, dest, source), owner=source)
    else:
        found = outcome(EVACUATING, 'the evacuation from %s was cut short on %s (%s is still down)'
                        % (source, dest, source), owner=dest)
    found.shared = shared
    found.dest_copy_status = dest_copy['status']
    found.source_copy_status = source_copy['status'] if source_copy is not None and source in reported else None
    return found


def _refers(outcome, record):
    return record is not None and (record.migration or {}).get('id') == outcome.id


def evacuation_actions(outcome, this_host, record, copy, observed):
    """What this host does about the evacuation (see ``fleet_policy.migration_actions``)."""
    if this_host == outcome.dest:
        return _dest_half(outcome, record, copy, observed)
    if this_host == outcome.source:
        return _source_half(outcome, record, copy, observed)
    return []


def _source_half(outcome, record, copy, observed):
    if outcome.kind != EVACUATED:
        return []               # rolled back: the destination hands the record back, then recovery goes on as usual
    left = observed.get('defined') or (copy is None or copy['status'] != ms.COMPLETED) \
        or (not outcome.shared and (observed.get('instance_dir') or observed.get('resize_dir'))) \
        or (record is not None and record.host == outcome.source)
    if not left:
        return []
    if outcome.shared:
        what = 'its stale domain here is destroyed (disks kept: the storage is shared)'
    else:
        what = 'its stale domain and its local disks here are removed'
    return [Action('clean_evacuated', '%s: %s' % (outcome.reason, what), shared=outcome.shared)]


def _dest_half(outcome, record, copy, observed):
    status = copy['status'] if copy is not None else None
    holds = _refers(outcome, record) and record.host == outcome.dest
    idle = holds and record.task_state is None and record.vm_state not in (st.ERROR, st.BUILDING)
    if outcome.kind == EVACUATED:
        if status == ms.ACCEPTED and idle:
            return [Action('complete_evacuation', '%s; its migration record is marked done' % outcome.reason,
                           final_status=ms.EVACUATED)]
        if status == ms.EVACUATED and outcome.source_copy_status == ms.COMPLETED:
            return [Action('complete_evacuation', '%s, and %s has cleaned up: the migration is completed'
                           % (outcome.reason, outcome.source), final_status=ms.COMPLETED)]
        return []
    if outcome.kind == EVACUATION_ROLLBACK:
        if idle:
            return [Action('note', 'the evacuation finished meanwhile: the next run judges it again')]
        if holds or (status is not None and status not in ms.TERMINAL) or observed.get('defined') \
                or (not outcome.shared and observed.get('instance_dir')):
            return [Action('rollback_evacuation', '%s: what was built here is removed%s' % (
                outcome.reason, ' (disks kept: the storage is shared)' if outcome.shared else ''),
                shared=outcome.shared)]
        return []
    if holds and record.task_state in st.REBUILD_TASK_STATES:
        return [Action('set_error', '%s: run playbooks/evacuate.yml again to finish it' % outcome.reason)]
    return []
