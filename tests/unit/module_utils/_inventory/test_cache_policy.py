"""The inventory's fleet view: fresh reads replace the cache, a hypervisor
that cannot be read is yielded from its last read, and each instance once."""

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._inventory.cache_policy import (
    merged_entries,
    owned_instances,
)


def rec(uuid, host, updated='2026-01-01', name=None, vm_state='active'):
    return {'uuid': uuid, 'name': name or 'vm-' + uuid, 'host': host, 'updated_at': updated, 'vm_state': vm_state}


def entry(records, read_at='T1', compute_host=None):
    found = {'read_at': read_at, 'records': records}
    if compute_host:
        found['compute_host'] = compute_host
    return found


MERGES = [
    # (name, fresh, cached, names, want entries' read_at, want from_cache)
    ('all read now', {'a': entry([], 'T2'), 'b': entry([], 'T2')}, {'a': entry([], 'T1')}, ['a', 'b'],
     {'a': 'T2', 'b': 'T2'}, []),
    ('a down: its last read', {'b': entry([], 'T2')}, {'a': entry([], 'T1'), 'b': entry([], 'T1')}, ['a', 'b'],
     {'a': 'T1', 'b': 'T2'}, ['a']),
    ('a down, never read', {'b': entry([], 'T2')}, {}, ['a', 'b'], {'b': 'T2'}, []),
    ('no cache at all', {'b': entry([], 'T2')}, None, ['a', 'b'], {'b': 'T2'}, []),
    ('a cache of garbage', {}, ['not', 'a', 'dict'], ['a'], {}, []),
    ('an unusable entry', {}, {'a': {'records': 'x'}}, ['a'], {}, []),
    ('a host no longer in the inventory is dropped', {'b': entry([], 'T2')}, {'gone': entry([], 'T1')}, ['b'],
     {'b': 'T2'}, []),
]


@pytest.mark.parametrize('name, fresh, cached, names, want, want_cached', MERGES, ids=[m[0] for m in MERGES])
def test_merged_entries(name, fresh, cached, names, want, want_cached):
    entries, from_cache = merged_entries(fresh, cached, names)
    assert dict((k, v['read_at']) for k, v in entries.items()) == want
    assert from_cache == want_cached


OWNERSHIP = [
    # (name, entries, from_cache, want [(uuid, hypervisor, from_cache)])
    ('each host yields its own', {'a': entry([rec('1', 'a')]), 'b': entry([rec('2', 'b')])}, [],
     [('1', 'a', False), ('2', 'b', False)]),
    ('a record naming another host is not yielded by this one', {'a': entry([rec('1', 'b')])}, [], []),
    ('compute_host differs from the inventory name', {'hv1': entry([rec('1', 'node1')], compute_host='node1')}, [],
     [('1', 'hv1', False)]),
    ('evacuated: the fresh read beats the cached one, even if older',
     {'a': entry([rec('1', 'a', updated='2026-09')]), 'b': entry([rec('1', 'b', updated='2026-01')])}, ['a'],
     [('1', 'b', False)]),
    ('both fresh: the newest record wins (a returned host not cleaned up yet)',
     {'a': entry([rec('1', 'a', updated='2026-01')]), 'b': entry([rec('1', 'b', updated='2026-02')])}, [],
     [('1', 'b', False)]),
    ('a dead host still yields what only it had', {'a': entry([rec('1', 'a')]), 'b': entry([])}, ['a'],
     [('1', 'a', True)]),
    ('deleted records are left out', {'a': entry([rec('1', 'a', vm_state='deleted')])}, [], []),
    ('a record without uuid or name is ignored', {'a': entry([{'host': 'a'}, 'junk', rec('1', 'a')])}, [],
     [('1', 'a', False)]),
]


@pytest.mark.parametrize('name, entries, from_cache, want', OWNERSHIP, ids=[o[0] for o in OWNERSHIP])
def test_owned_instances(name, entries, from_cache, want):
    found = owned_instances(entries, from_cache)
    assert [(o.record['uuid'], o.hypervisor, o.from_cache) for o in found] == want


def test_deleted_are_kept_when_asked():
    found = owned_instances({'a': entry([rec('1', 'a', vm_state='deleted')])}, [], include_deleted=True)
    assert [o.record['uuid'] for o in found] == ['1']


def test_the_read_time_comes_with_the_instance():
    found = owned_instances({'a': entry([rec('1', 'a')], read_at='2026-12-01T10:00:00Z')}, ['a'])
    assert (found[0].from_cache, found[0].read_at) == (True, '2026-12-01T10:00:00Z')
