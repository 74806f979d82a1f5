"""The inventory plugin run by the real ``ansible-inventory`` over record
files on this machine: a hypervisor that stops answering is yielded from
the jsonfile cache of its last read, with a warning, and without the cache
it is an error."""

import json
import os
import stat
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..', '..', '..'))
FARM = os.path.join(ROOT, 'build', 'collections')
# the ansible-inventory of the Python running the tests (the project's venv)
ANSIBLE_INVENTORY = os.path.join(os.path.dirname(sys.executable), 'ansible-inventory')


def _record(path, uuid, name, host, updated_at='2026-11-01T00:00:00.000000Z', **extra):
    os.makedirs(os.path.join(path, '_records'), exist_ok=True)
    record = {'uuid': uuid, 'name': name, 'host': host, 'vm_state': 'active', 'power_state': 'running',
              'updated_at': updated_at, 'flavor': {'name': 'm1.tiny', 'vcpus': 1, 'memory_mb': 64},
              'networks': [{'network': 'default', 'mac': 'fa:16:3e:00:00:01'}], 'user_data': '#cloud-config\n'}
    record.update(extra)
    with open(os.path.join(path, '_records', uuid + '.json'), 'w') as handle:
        json.dump(record, handle)


@pytest.fixture
def fleet(tmp_path):
    """Two hypervisors read on this machine; ``down`` makes one unreadable
    (its python is /bin/false, as a host that does not answer)."""
    class Fleet(object):
        a = str(tmp_path / 'a')
        b = str(tmp_path / 'b')
        cache = str(tmp_path / 'cache' / 'inventory')
        config = str(tmp_path / 'novalite.yml')

        def write(self, down=(), cache=True):
            hypervisors = []
            for name, path in (('hostA', self.a), ('hostB', self.b)):
                hv = {'name': name, 'instances_path': path}
                if name in down:
                    hv['python'] = '/bin/false'
                hypervisors.append(hv)
            with open(self.config, 'w') as handle:
                json.dump({'plugin': 'novalite.compute.instances', 'hypervisors': hypervisors, 'cache': cache,
                           'cache_connection': self.cache}, handle)

        def listing(self, expect_rc=0):
            env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=FARM, ANSIBLE_INVENTORY_UNPARSED_FAILED='true')
            done = subprocess.run([ANSIBLE_INVENTORY, '-i', self.config, '--list'], capture_output=True, text=True,
                                  env=env, check=False)
            assert done.returncode == expect_rc, done.stderr
            return (json.loads(done.stdout) if done.returncode == 0 else None), done.stderr

    return Fleet()


def _plain(value):
    """--list marks inventory values unsafe: {'__ansible_unsafe': v}."""
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return dict((k, _plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _vars(listed, host):
    return _plain(listed['_meta']['hostvars'][host])


def test_a_host_that_stops_answering_is_yielded_from_its_last_read(fleet):
    _record(fleet.a, '11111111-1111-4111-8111-111111111111', 'web1', 'hostA')
    _record(fleet.b, '22222222-2222-4222-8222-222222222222', 'db1', 'hostB')
    fleet.write()
    listed, _warnings = fleet.listing()
    assert set(listed['novalite_instances']['hosts']) == {'web1', 'db1'}
    assert 'novalite_from_cache' not in listed
    assert _vars(listed, 'web1')['novalite_from_cache'] is False
    cache_dir = os.path.dirname(fleet.cache)
    assert stat.S_IMODE(os.stat(fleet.cache).st_mode) == 0o700, 'the cache holds user_data'
    assert os.path.isdir(cache_dir)

    _record(fleet.a, '33333333-3333-4333-8333-333333333333', 'web2', 'hostA')    # hostA then dies with it
    fleet.write(down=('hostA',))
    listed, warnings = fleet.listing()
    assert 'cannot read the records of hostA' in warnings and 'inventory cache' in warnings, warnings
    assert set(listed['novalite_instances']['hosts']) == {'web1', 'db1'}      # web2 was never read
    assert listed['novalite_from_cache']['hosts'] == ['web1']
    web1 = _vars(listed, 'web1')
    assert web1['novalite_from_cache'] is True and web1['novalite_hypervisor'] == 'hostA'
    assert web1['novalite_records_read_at'].endswith('Z')
    assert web1['novalite_record']['networks'][0]['mac'] == 'fa:16:3e:00:00:01'

    # hostB evacuated web1; hostA is still down: the fresh read on hostB wins
    _record(fleet.b, '11111111-1111-4111-8111-111111111111', 'web1', 'hostB', updated_at='2026-12-01T00:00:00.0Z')
    listed, _warnings = fleet.listing()
    assert _vars(listed, 'web1')['novalite_hypervisor'] == 'hostB'
    assert 'novalite_from_cache' not in listed or 'web1' not in listed['novalite_from_cache'].get('hosts', [])

    fleet.write()                               # hostA is back: read again, the cache follows
    listed, warnings = fleet.listing()
    assert 'cannot read' not in warnings
    assert set(listed['novalite_instances']['hosts']) == {'web1', 'web2', 'db1'}
    assert _vars(listed, 'web1')['novalite_hypervisor'] == 'hostB'            # newest record
    assert _vars(listed, 'web2')['novalite_from_cache'] is False


def test_a_host_never_read_is_warned_about_and_yields_nothing(fleet):
    _record(fleet.b, '22222222-2222-4222-8222-222222222222', 'db1', 'hostB')
    fleet.write(down=('hostA',))
    listed, warnings = fleet.listing()
    assert 'no earlier read' in warnings, warnings
    assert listed['novalite_instances']['hosts'] == ['db1']


def test_without_the_cache_an_unreadable_host_is_an_error(fleet):
    _record(fleet.b, '22222222-2222-4222-8222-222222222222', 'db1', 'hostB')
    fleet.write(down=('hostA',), cache=False)
    _listed, errors = fleet.listing(expect_rc=1)
    assert 'cannot read the records of hostA' in errors
    assert not os.path.exists(fleet.cache)
