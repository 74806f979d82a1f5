# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet view the ``novalite.compute.instances`` inventory plugin builds
from its reads and its cache (pure: no Ansible, no I/O).

Every run reads every hypervisor. A hypervisor that answered replaces its
cache entry; one that did not keeps its last entry, so the instances of a
host that is down are still known (what ``playbooks/evacuate.yml`` needs),
marked as coming from the cache with the time of that last read.

A cache entry is ``{'read_at': ISO time, 'compute_host': name, 'records':
[record, ...]}``, keyed by the hypervisor's inventory name.

Each instance is yielded once: by the hypervisor its record names as
``host``. When two hypervisors both claim it (a host that was evacuated
and has not been cleaned up yet, or whose cached entry predates a move),
a fresh read wins over the cache, then the newest record.
"""

from __future__ import annotations


def merged_entries(fresh, cached, names):
    """``{name: entry}`` for every hypervisor in ``names`` that has one, and
    the names whose entry came from the cache. ``fresh``: entries read
    now; ``cached``: the last cache value (anything unusable is ignored)."""
    cached = cached if isinstance(cached, dict) else {}
    entries, from_cache = {}, []
    for name in names:
        if name in fresh:
            entries[name] = fresh[name]
        elif _usable(cached.get(name)):
            entries[name] = cached[name]
            from_cache.append(name)
    return entries, from_cache


def _usable(entry):
    return isinstance(entry, dict) and isinstance(entry.get('records'), list)


class Owned(object):
    """An instance as the inventory yields it: the record, the hypervisor
    that owns it, and whether that came from the cache (and when read)."""

    def __init__(self, hypervisor, record, from_cache, read_at):
        self.hypervisor = hypervisor
        self.record = record
        self.from_cache = from_cache
        self.read_at = read_at

    def rank(self):
        return (not self.from_cache, self.record.get('updated_at') or '')


def owned_instances(entries, from_cache, include_deleted=False):
    """[Owned] in hypervisor then instance-name order, one per uuid."""
    chosen = {}
    for name in sorted(entries):
        entry = entries[name]
        compute_host = entry.get('compute_host') or name
        for record in entry['records']:
            if not isinstance(record, dict) or not record.get('uuid') or not record.get('name'):
                continue
            if record.get('host') != compute_host:
                continue                      # the owning hypervisor yields it
            if record.get('vm_state') == 'deleted' and not include_deleted:
                continue
            candidate = Owned(name, record, name in from_cache, entry.get('read_at'))
            best = chosen.get(record['uuid'])
            if best is None or candidate.rank() > best.rank():
                chosen[record['uuid']] = candidate
    return sorted(chosen.values(), key=lambda owned: (owned.hypervisor, owned.record['name']))
