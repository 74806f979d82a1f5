"""Live migration between the two real hypervisors of this machine (host A:
root's qemu:///system; host B: novalite-b's qemu:///session behind its own
sshd, see tests/tools/second_host.sh), through playbooks/live_migrate.yml.

The guest is the test image's counter guest: it writes marker data on its
second disk, prints its sha256, then prints ``GUEST-TICK n`` every second
and re-reads the data every few ticks. A guest that moved without a
reboot keeps counting; the data is checked from inside (the guest's own
re-read) and from outside (the destination's disk file)."""

import hashlib
import json
import os
import re
import subprocess
import time

import libvirt
import pytest

from conftest import wait_for_console
from test_migration import TwoHosts

PLAYBOOK = os.path.join(os.path.dirname(__file__), '..', '..', 'playbooks', 'live_migrate.yml')
MiB = 1024 * 1024
DATA_MB = 8
FLAVOR = {'vcpus': 1, 'memory_mb': 256, 'root_gb': 1, 'ephemeral_gb': 1}
TICK = re.compile(r'GUEST-TICK (\d+)')


@pytest.fixture
def hosts(prefix, instances_path, tmp_path, run_module, conn):
    pair = TwoHosts(prefix, instances_path, tmp_path, run_module, conn)
    yield pair
    pair.cleanup()


def live(hosts, *extra, check=False, source='hostA', dest='hostB', wait=True):
    cmd = ['ansible-playbook', '-i', hosts.inventory, PLAYBOOK, '-e', 'source_host=' + source,
           '-e', 'dest_host=' + dest] + list(extra) + (['--check'] if check else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=dict(os.environ, ANSIBLE_NOCOLOR='1'))
    if not wait:
        return proc
    out = proc.communicate(timeout=900)[0]
    return proc.returncode, out


def counter_guest(hosts, name, networks=None):
    args = {'name': name, 'compute_host': 'hostA', 'instances_path': hosts.a_path,
            'virt_type': os.environ['NOVALITE_VIRT_TYPE'], 'flavor': FLAVOR,
            'image': {'url': 'file://' + os.environ['NOVALITE_TEST_IMAGE']},
            'metadata': {'novalite_test_counter': '1', 'novalite_test_disk_mb': str(DATA_MB),
                         'novalite_test_check_every': '3'}}
    if networks:
        args['networks'] = networks
    result = hosts.run_module('libvirt_instance', args)
    assert result['changed'] and not result.get('failed'), result.get('msg')
    inst = result['instance']
    log = wait_for_console(inst['console_log'], 'GUEST-TICK 2', timeout=120)
    return inst, re.search(r'GUEST-DATA ([0-9a-f]{64})', log).group(1)


def ticks(log):
    return [int(n) for n in TICK.findall(log)]


def kept_counting(console_log, after, seams=1, timeout=60):
    """The log shows ticks past ``after`` and never a restart: one boot, and
    the counter one up each time except at most one seam per move (the
    source's log is sent ahead of the move, so the few ticks printed there
    while the memory was copied are not in the destination's log)."""
    log = wait_for_console(console_log, 'GUEST-TICK %d' % (after + 2), timeout=timeout)
    seen = ticks(log)
    assert log.count('GUEST-BOOT') == 1, log[-2000:]
    steps = [b - a for a, b in zip(seen, seen[1:])]
    assert seen[0] == 1 and all(step >= 1 for step in steps), seen
    assert sum(1 for step in steps if step > 1) <= seams, seen
    return log


def data_on_disk(instance_dir):
    """sha256 of the marker region of the ephemeral disk file (raw)."""
    with open(os.path.join(instance_dir, 'disk.local'), 'rb') as handle:
        handle.seek(MiB)
        return hashlib.sha256(handle.read(DATA_MB * MiB)).hexdigest()


def state(conn, uuid):
    try:
        dom = conn.lookupByUUIDString(uuid)
    except libvirt.libvirtError:
        return None, None
    return dom.state()[0], dom.ID()


def settled(hosts, path, uuid, host):
    record = hosts.record(path, uuid)
    assert (record['host'], record['vm_state'], record['task_state']) == (host, 'active', None), record
    migration = hosts.migration(path, record['migration']['id'])
    assert migration['migration_type'] == 'live-migration'
    return record, migration


def test_a_running_guest_moves_a_to_b_and_back_without_a_reboot(hosts):
    inst, written = counter_guest(hosts, hosts.prefix + '-live')
    uuid = inst['uuid']
    record_file = os.path.join(hosts.a_path, '_records', uuid + '.json')
    with open(record_file, 'rb') as handle:
        before = handle.read()

    # check mode: the plan after the destination's checks, and nothing changes
    rc, out = live(hosts, '-e', 'instance=' + inst['name'], check=True)
    assert rc == 0, out[-4000:]
    assert 'live, block migration (memory and disks over NBD); storage block' in out
    assert '%d of memory' % (FLAVOR['memory_mb'] * MiB) in out
    with open(record_file, 'rb') as handle:
        assert handle.read() == before
    assert not os.listdir(os.path.join(hosts.a_path, '_migrations'))
    assert os.listdir(hosts.b_path) == []

    a_state, a_id = state(hosts.conn_a, uuid)
    assert a_state == libvirt.VIR_DOMAIN_RUNNING
    with open(inst['console_log']) as handle:
        seen_on_a = max(ticks(handle.read()))
    rc, out = live(hosts, '-e', 'instance=' + inst['name'])
    assert rc == 0, out[-4000:]
    assert 'runs on hostB: block migration in' in out

    b_dir = os.path.join(hosts.b_path, uuid)
    assert state(hosts.conn_a, uuid) == (None, None)                 # undefined on the source
    assert not os.path.exists(inst['instance_dir'])                  # the source copy is gone
    b_state, b_id = state(hosts.conn_b, uuid)
    assert b_state == libvirt.VIR_DOMAIN_RUNNING and b_id > 0
    log_b = kept_counting(os.path.join(b_dir, 'console.log'), after=seen_on_a)
    assert data_on_disk(b_dir) == written
    checks = re.findall(r'GUEST-DATA-CHECK \d+ ([0-9a-f]{64})', log_b)
    assert checks and set(checks) == {written}
    _record, migration = settled(hosts, hosts.b_path, uuid, 'hostB')
    assert migration['status'] == 'completed' and migration['shared_storage'] is False
    assert hosts.migration(hosts.a_path, migration['id'])['status'] == 'completed'
    assert hosts.record(hosts.a_path, uuid)['host'] == 'hostB'
    with open(os.path.join(hosts.a_path, '_records', uuid + '.actions.jsonl')) as handle:
        events = [json.loads(line) for line in handle]
    assert any(e['event'] == 'live_migrated' and e['storage'] == 'block' for e in events)

    # and back, B -> A
    with open(os.path.join(b_dir, 'console.log')) as handle:
        seen_on_b = max(ticks(handle.read()))
    rc, out = live(hosts, '-e', 'instance=' + inst['name'], source='hostB', dest='hostA')
    assert rc == 0, out[-4000:]
    assert state(hosts.conn_b, uuid) == (None, None)
    assert not os.path.exists(b_dir)
    back_state, back_id = state(hosts.conn_a, uuid)
    assert back_state == libvirt.VIR_DOMAIN_RUNNING and back_id not in (-1, a_id)
    log_a = kept_counting(inst['console_log'], after=seen_on_b, seams=2)
    assert data_on_disk(inst['instance_dir']) == written
    assert set(re.findall(r'GUEST-DATA-CHECK \d+ ([0-9a-f]{64})', log_a)) == {written}
    _record, back = settled(hosts, hosts.a_path, uuid, 'hostA')
    assert back['status'] == 'completed' and back['id'] != migration['id']
    for path in (hosts.a_path, hosts.b_path):
        assert not [f for f in os.listdir(path) if f.startswith('.novalite-probe-')]

    # a guest that came in by migration carries what the daemon added (its
    # security label, its backing chain): it moves on again just the same
    with open(inst['console_log']) as handle:
        seen_on_a = max(ticks(handle.read()))
    rc, out = live(hosts, '-e', 'instance=' + inst['name'])
    assert rc == 0, out[-4000:]
    assert state(hosts.conn_b, uuid)[0] == libvirt.VIR_DOMAIN_RUNNING and state(hosts.conn_a, uuid) == (None, None)
    kept_counting(os.path.join(b_dir, 'console.log'), after=seen_on_a, seams=3)
    assert data_on_disk(b_dir) == written


def _started(hosts, inst):
    started = hosts.module('hostA', 'instance_migrate', {
        'name': inst['name'], 'step': 'start', 'live': True, 'dest_host': 'hostB',
        'dest_instances_path': hosts.b_path, 'dest_libvirt_uri': 'qemu:///session',
        'dest_ssh': {'host': os.environ['NOVALITE_HOSTB_SSH_HOST'], 'port': int(os.environ['NOVALITE_HOSTB_SSH_PORT']),
                     'user': os.environ['NOVALITE_HOSTB_USER'], 'identity_file': os.environ['NOVALITE_HOSTB_SSH_KEY']}})
    assert started['changed'] and not started.get('failed'), started.get('msg')
    return started['migration']


def _refused_at_prep(hosts, inst, migration, message):
    refused = hosts.module('hostB', 'instance_migrate', {'step': 'prep', 'migration': migration})
    assert refused.get('failed') and message in refused['msg'], refused.get('msg')
    assert not os.path.exists(os.path.join(hosts.b_path, inst['uuid']))
    assert not os.path.exists(os.path.join(hosts.b_path, '_migrations', migration['id'] + '.json'))
    rolled = hosts.module('hostA', 'instance_migrate', {'name': inst['name'], 'step': 'revert',
                                                        'migration': migration})
    assert rolled['changed'] and not rolled.get('failed'), rolled.get('msg')
    record = hosts.record(hosts.a_path, inst['uuid'])
    assert (record['host'], record['vm_state'], record['task_state']) == ('hostA', 'active', None)
    assert state(hosts.conn_a, inst['uuid'])[0] == libvirt.VIR_DOMAIN_RUNNING
    return refused


def test_impossible_moves_are_refused_before_anything_moves(hosts, network):
    # B (a qemu:///session daemon) has no libvirt network novalite-test
    inst, _written = counter_guest(hosts, hosts.prefix + '-net', networks=[{'network': network}])
    rc, out = live(hosts, '-e', 'instance=' + inst['name'])
    assert rc != 0
    assert 'network' in out and network in out and 'rolled back and keeps running on hostA' in out, out[-4000:]
    assert not os.path.exists(os.path.join(hosts.b_path, inst['uuid']))
    record = hosts.record(hosts.a_path, inst['uuid'])
    assert (record['host'], record['task_state']) == ('hostA', None)
    assert hosts.migration(hosts.a_path, record['migration']['id'])['status'] == 'error'
    with open(inst['console_log']) as handle:
        kept_counting(inst['console_log'], after=max(ticks(handle.read())))

    # too little memory on B, and a guest CPU B cannot run (what a source with another CPU would send)
    other, _written = counter_guest(hosts, hosts.prefix + '-mem')
    migration = _started(hosts, other)
    _refused_at_prep(hosts, other, dict(migration, claim=dict(migration['claim'], memory_mb=64 * 1024 * 1024)),
                     'not enough memory on hostB')
    migration = _started(hosts, other)
    cpu = "<cpu mode='custom' match='exact'><model fallback='forbid'>qemu64</model>" \
          "<feature policy='require' name='avx512f'/></cpu>"
    _refused_at_prep(hosts, other, dict(migration, guest_cpu=cpu), 'cannot run the guest CPU')
    # and a stopped guest cannot move live at all
    hosts.run_module('libvirt_instance', {'name': other['name'], 'state': 'stopped', 'compute_host': 'hostA',
                                          'instances_path': hosts.a_path})
    rc, out = live(hosts, '-e', 'instance=' + other['name'])
    assert rc != 0 and 'a live migration moves a running guest' in out, out[-3000:]


def _progress_seen(actions_file, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(actions_file):
            with open(actions_file) as handle:
                if any(json.loads(line)['event'] == 'live_progress' for line in handle if line.strip()):
                    return
        time.sleep(0.2)
    raise AssertionError('no live_progress in %s' % actions_file)


def _rolled_back(hosts, inst, status):
    uuid = inst['uuid']
    assert state(hosts.conn_a, uuid)[0] == libvirt.VIR_DOMAIN_RUNNING
    assert state(hosts.conn_b, uuid) == (None, None)
    assert not os.path.exists(os.path.join(hosts.b_path, uuid))
    record, migration = settled(hosts, hosts.a_path, uuid, 'hostA')
    assert migration['status'] == status
    assert hosts.migration(hosts.b_path, migration['id'])['status'] == status
    for path in (hosts.a_path, hosts.b_path):
        assert not [f for f in os.listdir(path) if f.startswith('.novalite-probe-')]
    with open(inst['console_log']) as handle:
        kept_counting(inst['console_log'], after=max(ticks(handle.read())))
    return record


def test_an_aborted_move_leaves_the_guest_running_on_the_source(hosts):
    inst, _written = counter_guest(hosts, hosts.prefix + '-abort')
    slow = json.dumps({'live_options': {'bandwidth_mib': 1, 'completion_timeout': 0}})
    proc = live(hosts, '-e', 'instance=' + inst['name'], '-e', slow, wait=False)
    try:
        _progress_seen(os.path.join(hosts.a_path, '_records', inst['uuid'] + '.actions.jsonl'))
        aborted = hosts.module('hostA', 'instance_migrate', {'name': inst['name'], 'step': 'abort'})
        assert aborted['changed'] and not aborted.get('failed'), aborted.get('msg')
        out = proc.communicate(timeout=300)[0]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0
    assert 'rolled back and keeps running on hostA' in out, out[-4000:]
    record = _rolled_back(hosts, inst, 'cancelled')
    assert 'abort' in record['fault']['message'].lower() or 'cancel' in record['fault']['message'].lower()
    # nothing left to abort
    again = hosts.module('hostA', 'instance_migrate', {'name': inst['name'], 'step': 'abort'})
    assert again.get('failed') and 'cancelled' in again['msg'], again.get('msg')


def test_the_completion_timeout_aborts_a_move_that_does_not_converge(hosts):
    inst, _written = counter_guest(hosts, hosts.prefix + '-slow')
    slow = json.dumps({'live_options': {'bandwidth_mib': 1, 'completion_timeout': 1}})
    rc, out = live(hosts, '-e', 'instance=' + inst['name'], '-e', slow)
    assert rc != 0
    # 1 s per GiB of memory and of each copied disk, each counted as at least 2 GiB (Nova): 6 s
    assert 'did not complete within 6 s' in out and 'rolled back' in out, out[-4000:]
    _rolled_back(hosts, inst, 'cancelled')
