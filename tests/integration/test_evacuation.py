"""Evacuation of a dead hypervisor, for real: host B (novalite-b's
qemu:///session behind its own sshd) runs two instances; the test fences it
- SIGKILLs their QEMU, stops its libvirtd and its sshd - and
playbooks/evacuate.yml rebuilds both on host A from what the
novalite.compute.instances inventory's cache holds of B. Then B comes
back and playbooks/reconcile.yml cleans it up. Serial: it stops host B,
which the parallel tests use."""

import json
import os
import signal
import subprocess
import time

import libvirt
import pytest

from test_live_migration_shared import SharedPair
from test_migration import TwoHosts, has_marker, write_marker

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
EVACUATE = os.path.join(ROOT, 'playbooks', 'evacuate.yml')
RECONCILE = os.path.join(ROOT, 'playbooks', 'reconcile.yml')
SECOND_HOST = os.path.join(ROOT, 'tests', 'tools', 'second_host.sh')
SSHD_PIDFILE = '/var/lib/novalite-sshd/sshd.pid'
HOSTB_USER = os.environ.get('NOVALITE_HOSTB_USER', 'novalite-b')
FLAVOR = {'name': 'm1.tiny', 'vcpus': 1, 'memory_mb': 128, 'root_gb': 1, 'swap_mb': 16}


def _run(argv, timeout=900):
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                          env=dict(os.environ, ANSIBLE_NOCOLOR='1'))


class DeadHost(object):
    """Host B made unreachable and brought back."""

    @staticmethod
    def fence():
        """Power B off as far as this machine can: every process of B's user
        killed (its guests' QEMU, its libvirtd, the SSH sessions into it:
        a controller's persistent SSH connection must not outlive the
        host), and its sshd stopped."""
        with open(SSHD_PIDFILE) as handle:
            os.kill(int(handle.read().split()[0]), signal.SIGTERM)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            subprocess.run(['pkill', '-9', '-u', HOSTB_USER], check=False)
            if subprocess.run(['pgrep', '-u', HOSTB_USER], capture_output=True, check=False).returncode != 0:
                return
            time.sleep(0.2)
        raise AssertionError('host B processes did not stop')

    @staticmethod
    def revive():
        done = _run(['bash', SECOND_HOST], timeout=120)
        assert done.returncode == 0, done.stderr


@pytest.fixture
def fleet(prefix, instances_path, tmp_path, run_module, conn):
    pair = TwoHosts(prefix, instances_path, tmp_path, run_module, conn)
    config = tmp_path / 'novalite.yml'
    config.write_text(json.dumps({
        'plugin': 'novalite.compute.instances',
        'cache_connection': str(tmp_path / 'inventory-cache'),
        'hypervisors': [
            {'name': 'hostA', 'instances_path': instances_path},
            {'name': 'hostB', 'instances_path': pair.b_path, 'ssh_host': os.environ['NOVALITE_HOSTB_SSH_HOST'],
             'ssh_port': int(os.environ['NOVALITE_HOSTB_SSH_PORT']), 'ssh_user': os.environ['NOVALITE_HOSTB_USER'],
             'ssh_key': os.environ['NOVALITE_HOSTB_SSH_KEY'], 'python': '/usr/bin/python3'}]}))
    pair.instances_config = str(config)
    try:
        yield pair
    finally:
        DeadHost.revive()                   # whatever failed, B is back for the tests after this one
        pair.conn_b = libvirt.open('qemu+unix:///session?socket=/var/lib/novalite-hostb/.cache/libvirt/libvirt-sock')
        pair.cleanup()


def _playbook(fleet, playbook, *extra, check=False):
    return _run(['ansible-playbook', '-i', fleet.inventory, '-i', fleet.instances_config, playbook] + list(extra)
                + (['--check'] if check else []))


def _listed(fleet):
    done = _run(['ansible-inventory', '-i', fleet.instances_config, '--list'])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def _plain(value):
    if isinstance(value, dict):
        if set(value) == {'__ansible_unsafe'}:
            return value['__ansible_unsafe']
        return dict((k, _plain(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _mac(dom):
    from lxml import etree
    return etree.fromstring(dom.XMLDesc(0)).find('devices/interface/mac').get('address')


@pytest.mark.serial
def test_a_dead_host_is_evacuated_and_cleaned_up_when_it_returns(fleet, console):
    # B (a qemu:///session daemon) has no libvirt network: MACs are followed in the shared-storage test below
    common = {'virt_type': os.environ['NOVALITE_VIRT_TYPE'], 'flavor': FLAVOR,
              'image': {'url': 'file://' + os.environ['NOVALITE_TEST_IMAGE']}}
    running = fleet.module('hostB', 'libvirt_instance', dict(common, name=fleet.prefix + '-ev1', state='running',
                                                             metadata={'role': 'web'}))
    assert not running.get('failed'), running.get('msg')
    stopped = fleet.module('hostB', 'libvirt_instance', dict(common, name=fleet.prefix + '-ev2', state='stopped'))
    assert not stopped.get('failed'), stopped.get('msg')
    names = {fleet.prefix + '-ev1': running['instance']['uuid'], fleet.prefix + '-ev2': stopped['instance']['uuid']}

    listed, _warnings = _listed(fleet)          # read while B is up: the cache keeps it
    assert set(listed['hypervisor_hostB']['hosts']) == set(names)

    refused = _playbook(fleet, EVACUATE, '-e', 'host=hostB', '-e', 'fenced=hostB')
    assert refused.returncode != 0 and 'hostB answers' in refused.stdout, refused.stdout[-2000:]
    unconfirmed = _playbook(fleet, EVACUATE, '-e', 'host=hostB')
    assert unconfirmed.returncode != 0 and 'must be fenced' in unconfirmed.stdout, unconfirmed.stdout[-2000:]

    DeadHost.fence()
    listed, warnings = _listed(fleet)
    assert 'cannot read the records of hostB' in warnings, warnings
    assert set(listed['novalite_from_cache']['hosts']) == set(names)

    preview = _playbook(fleet, EVACUATE, '-e', 'host=hostB', '-e', 'fenced=hostB', check=True)
    assert preview.returncode == 0, preview.stdout[-3000:]
    assert not [u for u in names.values() if u in fleet.domains(fleet.conn_a)]

    done = _playbook(fleet, EVACUATE, '-e', 'host=hostB', '-e', 'fenced=hostB')
    assert done.returncode == 0, done.stdout[-4000:]
    assert 'root disk rebuilt from the image' in done.stdout
    domains = fleet.domains(fleet.conn_a)
    for name, uuid in names.items():
        record = fleet.record(fleet.a_path, uuid)
        assert (record['host'], record['name'], record['task_state']) == ('hostA', name, None)
        assert record['flavor']['name'] == 'm1.tiny' and record['system_metadata']['evacuated_from'] == 'hostB'
        migration = fleet.migration(fleet.a_path, record['migration']['id'])
        assert (migration['migration_type'], migration['status'], migration['source_compute']) == \
            ('evacuation', 'done', 'hostB')
        assert uuid in domains
    ev1 = fleet.record(fleet.a_path, names[fleet.prefix + '-ev1'])
    assert ev1['metadata'] == {'role': 'web'} and ev1['vm_state'] == 'active'
    assert domains[names[fleet.prefix + '-ev1']].state()[0] == libvirt.VIR_DOMAIN_RUNNING
    assert domains[names[fleet.prefix + '-ev2']].state()[0] == libvirt.VIR_DOMAIN_SHUTOFF     # it was stopped
    console(os.path.join(fleet.a_path, names[fleet.prefix + '-ev1'], 'console.log'), 'GUEST-READY')

    # again: the inventory now yields both from hostA (a fresh read beats B's cached one): nothing is left on B
    before = dict((uuid, fleet.record(fleet.a_path, uuid)['updated_at']) for uuid in names.values())
    again = _playbook(fleet, EVACUATE, '-e', 'host=hostB', '-e', 'fenced=hostB')
    assert again.returncode == 0 and '"evacuated": []' in again.stdout, again.stdout[-3000:]
    assert dict((uuid, fleet.record(fleet.a_path, uuid)['updated_at']) for uuid in names.values()) == before
    # and the module itself, given B's last record again, knows it is done
    cached = _plain(_listed(fleet)[0]['_meta']['hostvars'][fleet.prefix + '-ev1']['novalite_record'])
    assert cached['host'] == 'hostA'
    repeat = fleet.module('hostA', 'instance_evacuate', {'record': dict(cached, host='hostB'), 'source_host': 'hostB'})
    assert not repeat.get('failed') and not repeat['changed'], repeat.get('msg')
    assert repeat['evacuation']['action'] == 'done' and 'already evacuated' in repeat['evacuation']['reason']

    DeadHost.revive()                           # B is back: its domains are defined, shut off, and stale
    fleet.conn_b = libvirt.open('qemu+unix:///session?socket=/var/lib/novalite-hostb/.cache/libvirt/libvirt-sock')
    assert set(names.values()) <= set(fleet.domains(fleet.conn_b))
    cleaned = _playbook(fleet, RECONCILE)
    assert cleaned.returncode == 0, cleaned.stdout[-4000:]
    assert 'clean_evacuated' in cleaned.stdout, cleaned.stdout[-3000:]
    on_b = fleet.domains(fleet.conn_b)
    for name, uuid in names.items():
        assert uuid not in on_b
        listing = subprocess.run(fleet.ssh + ['test', '-e', os.path.join(fleet.b_path, uuid)], check=False)
        assert listing.returncode != 0, 'the local disks of %s are still on hostB' % name
        b_record_path = os.path.join(fleet.b_path, '_records', uuid + '.json')
        b_record = json.loads(subprocess.run(fleet.ssh + ['cat', b_record_path], capture_output=True, text=True,
                                             check=True).stdout)
        assert b_record['host'] == 'hostA'
        record = fleet.record(fleet.a_path, uuid)
        assert fleet.migration(fleet.a_path, record['migration']['id'])['status'] == 'completed'
    assert fleet.domains(fleet.conn_a)[names[fleet.prefix + '-ev1']].state()[0] == libvirt.VIR_DOMAIN_RUNNING

    second = _playbook(fleet, RECONCILE)
    assert second.returncode == 0 and 'clean_evacuated' not in second.stdout, second.stdout[-3000:]
    listed, warnings = _listed(fleet)
    assert 'cannot read' not in warnings
    assert set(listed['hypervisor_hostA']['hosts']) >= set(names)
    assert 'hypervisor_hostB' not in listed or not set(names) & set(listed['hypervisor_hostB'].get('hosts', []))


@pytest.fixture
def shared(prefix, tmp_path, run_module):
    pair = SharedPair(prefix, tmp_path, run_module)
    yield pair
    pair.cleanup()


def test_on_a_shared_instances_path_the_disks_are_kept_and_never_removed(shared):
    """Host C (sharing host A's instances_path) "died" with a stopped
    instance whose root disk holds a marker: A rebuilds it on the same
    disk files, and C's return removes only its domain."""
    # host C (root's, same network namespace) has no libvirt network: the NIC is on the bridge of A's network
    bridge = shared.conns['hostA'].networkLookupByName(os.environ['NOVALITE_TEST_NETWORK']).bridgeName()
    made = shared.module('hostC', 'libvirt_instance', {
        'name': shared.prefix + '-es', 'state': 'stopped', 'virt_type': os.environ['NOVALITE_VIRT_TYPE'],
        'image': {'url': 'file://' + os.environ['NOVALITE_TEST_IMAGE']}, 'flavor': FLAVOR,
        'networks': [{'bridge': bridge, 'mac': 'fa:16:3e:e0:00:07'}], 'metadata': {'role': 'db'}})
    assert not made.get('failed'), made.get('msg')
    uuid = made['instance']['uuid']
    disk = os.path.join(shared.path, uuid, 'disk')
    write_marker(disk)
    inode = os.stat(disk).st_ino
    known = shared.record(uuid)

    preview = shared.module('hostA', 'instance_evacuate', {'record': known, 'source_host': 'hostC'}, check=True)
    assert not preview.get('failed') and preview['changed'], preview.get('msg')
    assert preview['evacuation']['shared_storage'] is True and 'disks kept' in preview['evacuation']['reason']
    assert shared.state('hostA', uuid) is None

    done = shared.module('hostA', 'instance_evacuate', {'record': known, 'source_host': 'hostC'})
    assert not done.get('failed'), done.get('msg')
    assert done['evacuation']['action'] == 'rebuild' and done['evacuation']['powered_on'] is False
    assert os.stat(disk).st_ino == inode and has_marker(disk)[0], 'the shared root disk was not kept'
    record = shared.record(uuid)
    assert (record['host'], record['vm_state'], record['task_state']) == ('hostA', 'stopped', None)
    assert shared.migration(record['migration']['id'])['shared_storage'] is True
    assert shared.state('hostA', uuid) == libvirt.VIR_DOMAIN_SHUTOFF
    assert record['metadata'] == {'role': 'db'} and record['networks'][0]['mac'] == 'fa:16:3e:e0:00:07'
    assert _mac(shared.conns['hostA'].lookupByUUIDString(uuid)) == 'fa:16:3e:e0:00:07'

    # C comes back: its domain is destroyed, the disks are the instance's on A and stay
    cleaned = _run(['ansible-playbook', '-i', shared.inventory, RECONCILE])
    assert cleaned.returncode == 0, cleaned.stdout[-3000:]
    assert 'clean_evacuated' in cleaned.stdout and 'disks kept' in cleaned.stdout, cleaned.stdout[-3000:]
    assert shared.state('hostC', uuid) is None and shared.state('hostA', uuid) == libvirt.VIR_DOMAIN_SHUTOFF
    assert os.stat(disk).st_ino == inode and has_marker(disk)[0]
    assert shared.migration(record['migration']['id'])['status'] == 'completed'
    started = shared.module('hostA', 'libvirt_instance', {'name': shared.prefix + '-es', 'state': 'running'})
    assert not started.get('failed'), started.get('msg')


def test_bad_evacuation_requests_are_refused_and_change_nothing(shared):
    made = shared.module('hostC', 'libvirt_instance', {
        'name': shared.prefix + '-eb', 'state': 'stopped', 'virt_type': os.environ['NOVALITE_VIRT_TYPE'],
        'image': {'url': 'file://' + os.environ['NOVALITE_TEST_IMAGE']}, 'flavor': FLAVOR})
    uuid = made['instance']['uuid']
    known = shared.record(uuid)
    before = json.dumps(known, sort_keys=True)
    cases = [
        ({'record': dict(known, networks=[{'network': known['networks'][0]['network']}]) if known['networks']
          else dict(known, uuid='x'), 'source_host': 'hostC'}, 'validate input'),
        ({'record': known, 'source_host': 'hostA'}, 'validate input'),           # the destination itself
        ({'record': known, 'source_host': 'hostX'}, 'plan'),                     # its record names hostC
    ]
    for args, step in cases:
        refused = shared.module('hostA', 'instance_evacuate', args)
        assert refused.get('failed') and refused['step'] == step, (args, refused)
        assert shared.prefix + '-eb' in refused['msg'], refused['msg']
        assert json.dumps(shared.record(uuid), sort_keys=True) == before
        assert shared.state('hostA', uuid) is None
