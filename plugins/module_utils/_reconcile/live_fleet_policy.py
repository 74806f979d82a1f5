# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How an unfinished live migration ends (Nova's _init_instance for
MIGRATING, judged from every host): whichever host really runs the guest
owns it, the other side is cleaned. Pure: no libvirt, no Ansible.

Each host's report of a live migration's copy carries what it sees of
that instance's domain (``domain``: its power state or None; ``persistent``;
``job``: a libvirt job runs on it). From the copies:

* a copy says completed -> **finish** on the destination;
* a migration job still runs on the source -> **unknown** (libvirt may
  still complete it or fail it: run again once it ended, or abort it);
* the guest runs (or is paused) on the destination only -> **finish**;
* on the source only -> **rollback** to the source;
* on both -> **unknown** (a post-copy cut short: only an operator can tell
  which half has the newer memory);
* on neither -> the destination owns it if it holds a persistent domain
  and the source none (libvirt had completed); otherwise **rollback** (the
  source still has the disks; the power-state rules then start it or
  record it as stopped);
* a host that could tell did not report -> **unknown**.

``live_actions`` then says what one host does about it.
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._reconcile.policy import Action

LIVE = 'live-migration'
LIVE_FINISH, LIVE_ROLLBACK = 'finish live', 'rollback live'
RUNNING_HERE = ('running', 'paused')
OBSERVED_FIELDS = ('domain', 'persistent', 'job')


def is_live(copy):
    return (copy or {}).get('migration_type') == LIVE


def domain_report(guest_power, persistent, job):
    """What a host reports of a live migration's instance domain."""
    return {'domain': guest_power, 'persistent': persistent, 'job': job}


def live_outcome(copies, reported, outcome):
    """(kind, reason, owner, final_status) of one live migration; ``copies``
    {host: migration summary}, ``reported`` the hosts that reported,
    ``outcome(kind, reason, owner, final)`` builds the fleet Outcome."""
    first = copies[sorted(copies)[0]]
    source, dest = first['source_compute'], first['dest_compute']
    statuses = set(copy['status'] for copy in copies.values())
    if ms.COMPLETED in statuses:
        return outcome(LIVE_FINISH, 'the live migration completed', owner=dest)
    missing = [host for host in (source, dest) if host not in reported]
    if missing:
        return outcome('unknown', 'only %s can tell where the guest runs, and it did not report'
                       % ' and '.join(missing))
    seen = dict((host, copies.get(host) or {}) for host in (source, dest))
    if seen[source].get('job'):
        return outcome('unknown', "libvirt's migration job still runs on %s: run the reconcile playbook again "
                                  'once it ended (or abort it with instance_migrate step=abort)' % source)
    final = ms.CANCELLED if ms.CANCELLED in statuses else ms.ERROR
    on = dict((host, seen[host].get('domain') in RUNNING_HERE) for host in (source, dest))
    if on[dest] and on[source]:
        return outcome('unknown', 'the guest is %s on %s and %s on %s (a post-copy cut short?): decide by hand '
                       'which one to keep' % (seen[source]['domain'], source, seen[dest]['domain'], dest))
    if on[dest]:
        return outcome(LIVE_FINISH, 'the guest runs on the destination: the live migration completed', owner=dest)
    if on[source]:
        return outcome(LIVE_ROLLBACK, 'the guest runs on the source: the live migration is rolled back',
                       owner=source, final=final)
    if seen[dest].get('persistent') and not seen[source].get('domain'):
        return outcome(LIVE_FINISH, 'the guest runs nowhere, the destination holds its definition and the '
                                    'source none: libvirt had completed the move', owner=dest)
    return outcome(LIVE_ROLLBACK, 'the guest runs nowhere and the source keeps it: rolled back to the source',
                   owner=source, final=final)


def _open(copy):
    return copy is not None and copy['status'] not in ms.TERMINAL


def _copy_dir(copy, observed):
    """An instance directory here that is this host's own copy (on shared
    storage the one directory belongs to whoever owns the instance)."""
    return observed.get('instance_dir') and (copy or {}).get('shared_storage') is False


def _refers(outcome, record):
    return record is not None and (record.migration or {}).get('id') == outcome.id


def live_actions(outcome, this_host, record, copy, observed):
    """What this host does about one live migration (``migration_actions``'s
    live half): the record, this host's copy, what it sees."""
    actions = []
    if this_host == outcome.dest:
        actions += _dest_half(outcome, record, copy, observed)
    if this_host == outcome.source:
        actions += _source_half(outcome, record, copy, observed)
    return actions


def _dest_half(outcome, record, copy, observed):
    if outcome.kind == LIVE_FINISH:
        pending = _refers(outcome, record) and (record.host != outcome.dest or record.task_state is not None)
        if pending or _open(copy):
            if record is None or not observed.get('defined'):
                return [Action('note', '%s, but this host has no record or no domain of it: left as it is'
                               % outcome.reason)]
            return [Action('finish_live_migration', '%s: the record is this host\'s' % outcome.reason)]
        return []
    running = observed.get('power_state') in RUNNING_HERE
    if _open(copy) or _copy_dir(copy, observed) or observed.get('probe') or (observed.get('defined')
                                                                             and not running):
        return [Action('rollback_live_migration', '%s: the destination\'s domain, disks, probe and claim are '
                                                  'removed' % outcome.reason, side='dest',
                       final_status=outcome.final_status)]
    return []


def _source_half(outcome, record, copy, observed):
    refers = _refers(outcome, record)
    if outcome.kind == LIVE_FINISH:
        pending = refers and record.host == outcome.source
        shared = (copy or {}).get('shared_storage')
        if pending or (_open(copy) and not shared) or _copy_dir(copy, observed) or observed.get('probe'):
            return [Action('cleanup_live_source', '%s: this host\'s record names %s and its copy is removed'
                           % (outcome.reason, outcome.dest))]
        return []
    if (refers and (record.task_state is not None or record.host != outcome.source)) or _open(copy) \
            or observed.get('probe'):
        return [Action('rollback_live_migration', '%s: the record is this host\'s again' % outcome.reason,
                       side='source', final_status=outcome.final_status)]
    return []
