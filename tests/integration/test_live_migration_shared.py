"""Live migration on a shared instances_path: host A (root's qemu:///system)
and host C (a second root libvirtd in its own mount namespace, see
tests/tools/shared_host.sh) use one directory for records, locks,
migrations, the image cache and the instance's disks. The move copies
memory only; the one record changes owner; neither host acts on the
other's instances."""

import json
import os
import shutil
import subprocess

import libvirt
import pytest

from conftest import wait_for_console
from test_live_migration import DATA_MB, FLAVOR, data_on_disk, kept_counting, ticks

PLAYBOOK = os.path.join(os.path.dirname(__file__), '..', '..', 'playbooks', 'live_migrate.yml')


class SharedPair(object):
    def __init__(self, prefix, tmp_path, run_module):
        self.prefix = prefix
        self.path = os.path.join(os.environ['NOVALITE_SHARED_INSTANCES'], prefix)
        os.makedirs(self.path)
        os.chmod(self.path, 0o755)
        self.run_module = run_module
        self.uris = {'hostA': 'qemu:///system', 'hostC': os.environ['NOVALITE_HOSTC_URI']}
        self.conns = dict((name, libvirt.open(uri)) for name, uri in self.uris.items())
        self.inventory = str(tmp_path / 'hosts.ini')
        with open(self.inventory, 'w') as handle:
            handle.write(
                '[hypervisors]\n'
                'hostA ansible_connection=local ansible_python_interpreter={py} novalite_libvirt_uri=qemu:///system '
                'novalite_instances_path={s} novalite_ssh_host=127.0.0.1 novalite_migration_address=127.0.0.1 '
                '"novalite_live_uri={a_uri}"\n'
                'hostC ansible_connection=local ansible_python_interpreter={py} "novalite_libvirt_uri={c_uri}" '
                'novalite_instances_path={s} novalite_ssh_host=127.0.0.1 novalite_migration_address=127.0.0.1 '
                '"novalite_live_uri={c_uri}"\n'.format(
                    py=os.environ['ANSIBLE_PYTHON_INTERPRETER'], s=self.path, a_uri=os.environ['NOVALITE_HOSTC_A_URI'],
                    c_uri=os.environ['NOVALITE_HOSTC_URI']))

    def module(self, host, module, args, check=False):
        full = dict(args, compute_host=host, instances_path=self.path, uri=self.uris[host])
        return self.run_module(module, full, check=check)

    def record(self, uuid):
        with open(os.path.join(self.path, '_records', uuid + '.json')) as handle:
            return json.load(handle)

    def migration(self, migration_id):
        with open(os.path.join(self.path, '_migrations', migration_id + '.json')) as handle:
            return json.load(handle)

    def state(self, host, uuid):
        try:
            return self.conns[host].lookupByUUIDString(uuid).state()[0]
        except libvirt.libvirtError:
            return None

    def live(self, instance, source, dest, check=False):
        extra = json.dumps({'live_options': {'permit_unsafe': True}})
        cmd = ['ansible-playbook', '-i', self.inventory, PLAYBOOK, '-e', 'instance=' + instance,
               '-e', 'source_host=' + source, '-e', 'dest_host=' + dest, '-e', extra] + (['--check'] if check else [])
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False,
                              env=dict(os.environ, ANSIBLE_NOCOLOR='1'))
        return proc.returncode, proc.stdout

    def cleanup(self):
        for conn in self.conns.values():
            for dom in conn.listAllDomains(0):
                if dom.name().startswith(self.prefix):
                    try:
                        if dom.isActive():
                            dom.destroy()
                        dom.undefine()
                    except libvirt.libvirtError:
                        pass
            conn.close()
        shutil.rmtree(self.path, ignore_errors=True)


@pytest.fixture
def shared(prefix, tmp_path, run_module):
    pair = SharedPair(prefix, tmp_path, run_module)
    yield pair
    pair.cleanup()


def counter_guest(shared, name):
    result = shared.module('hostA', 'libvirt_instance', {
        'name': name, 'virt_type': os.environ['NOVALITE_VIRT_TYPE'], 'flavor': FLAVOR,
        'image': {'url': 'file://' + os.environ['NOVALITE_TEST_IMAGE']},
        'metadata': {'novalite_test_counter': '1', 'novalite_test_disk_mb': str(DATA_MB),
                     'novalite_test_check_every': '3'}})
    assert result['changed'] and not result.get('failed'), result.get('msg')
    inst = result['instance']
    log = wait_for_console(inst['console_log'], 'GUEST-TICK 2', timeout=120)
    return inst, log.split('GUEST-DATA ')[1].split()[0]


def test_a_running_guest_moves_a_to_c_and_back_on_a_shared_instances_path(shared):
    inst, written = counter_guest(shared, shared.prefix + '-sh')
    uuid = inst['uuid']
    disk = os.path.join(inst['instance_dir'], 'disk')
    inode = os.stat(disk).st_ino

    rc, out = shared.live(inst['name'], 'hostA', 'hostC', check=True)
    assert rc == 0, out[-4000:]
    assert 'live, memory only; storage shared' in out and '0 of disk - none on shared storage' in out
    assert shared.record(uuid)['task_state'] is None

    with open(inst['console_log']) as handle:
        seen = max(ticks(handle.read()))
    rc, out = shared.live(inst['name'], 'hostA', 'hostC')
    assert rc == 0, out[-4000:]
    assert 'runs on hostC: shared migration in' in out
    assert shared.state('hostA', uuid) is None and shared.state('hostC', uuid) == libvirt.VIR_DOMAIN_RUNNING
    assert os.stat(disk).st_ino == inode                     # the same disk, not a copy
    # one console log for both hosts: the guest's output has no seam at all
    kept_counting(inst['console_log'], after=seen, seams=0)
    assert data_on_disk(inst['instance_dir']) == written
    record = shared.record(uuid)
    assert (record['host'], record['vm_state'], record['task_state']) == ('hostC', 'active', None)
    migration = shared.migration(record['migration']['id'])
    assert migration['status'] == 'completed' and migration['shared_storage'] is True
    assert not [f for f in os.listdir(shared.path) if f.startswith('.novalite-probe-')]

    # host A's modules and recovery leave host C's instance alone
    refused = shared.module('hostA', 'libvirt_instance', {'name': inst['name'], 'state': 'stopped'})
    assert refused.get('failed') and 'owned by host hostC' in refused['msg'], refused.get('msg')
    seen_by_a = shared.module('hostA', 'state_reconcile', {'mode': 'both'})
    assert not seen_by_a.get('failed') and seen_by_a['changed'] is False, seen_by_a.get('msg')
    entry = [e for e in seen_by_a['plan'] if e['uuid'] == uuid][0]
    assert set(a['action'] for a in entry['actions']) == {'note'}, entry
    assert all('belongs to hostC' in a['reason'] for a in entry['actions']), entry
    assert shared.state('hostC', uuid) == libvirt.VIR_DOMAIN_RUNNING

    with open(inst['console_log']) as handle:
        seen = max(ticks(handle.read()))
    rc, out = shared.live(inst['name'], 'hostC', 'hostA')
    assert rc == 0, out[-4000:]
    assert shared.state('hostC', uuid) is None and shared.state('hostA', uuid) == libvirt.VIR_DOMAIN_RUNNING
    kept_counting(inst['console_log'], after=seen, seams=0)
    assert os.stat(disk).st_ino == inode and data_on_disk(inst['instance_dir']) == written
    record = shared.record(uuid)
    assert (record['host'], record['vm_state'], record['task_state']) == ('hostA', 'active', None)
