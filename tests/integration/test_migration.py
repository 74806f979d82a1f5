"""Cold migration and resize between two real hypervisors on this machine:
host A is root's qemu:///system, host B is the user novalite-b's
qemu:///session with its own instances_path, reached only over SSH
(tests/tools/second_host.sh). Disk bytes cross that SSH connection.
The flows run through playbooks/resize.yml with a two-host inventory."""

import glob
import json
import os
import shutil
import signal
import subprocess
import time

import libvirt
import pytest

from ansible_collections.novalite.compute.plugins.module_utils._migrate.transfer import allocated_bytes
from conftest import sha256_of

PLAYBOOK = os.path.join(os.path.dirname(__file__), '..', '..', 'playbooks', 'resize.yml')
HOSTB_HOME = '/var/lib/novalite-hostb'
MARKER = ('0x5a', '512M', '64k')
MiB = 1024 * 1024


class TwoHosts(object):
    def __init__(self, prefix, a_path, tmp_path, run_module, conn_a):
        self.prefix = prefix
        self.a_path = a_path
        self.b_path = os.path.join(os.environ['NOVALITE_HOSTB_INSTANCES'], prefix)
        self.tmp_path = tmp_path
        self.run_module = run_module
        self.conn_a = conn_a
        self.conn_b = libvirt.open('qemu+unix:///session?socket=%s/.cache/libvirt/libvirt-sock' % HOSTB_HOME)
        self.ssh = ['ssh', '-o', 'BatchMode=yes', '-i', os.environ['NOVALITE_HOSTB_SSH_KEY'],
                    '-p', os.environ['NOVALITE_HOSTB_SSH_PORT'],
                    '%s@%s' % (os.environ['NOVALITE_HOSTB_USER'], os.environ['NOVALITE_HOSTB_SSH_HOST'])]
        subprocess.run(self.ssh + ['mkdir', '-p', self.b_path], check=True)
        self.inventory = str(tmp_path / 'hosts.ini')
        with open(self.inventory, 'w') as handle:
            handle.write(
                '[hypervisors]\n'
                'hostA ansible_connection=local ansible_python_interpreter={py} novalite_libvirt_uri=qemu:///system '
                'novalite_instances_path={a} novalite_migration_key={key} '
                'novalite_ssh_host={h} novalite_ssh_port={a_port} novalite_ssh_user=root\n'
                'hostB ansible_host={h} ansible_port={port} ansible_user={user} ansible_ssh_private_key_file={key} '
                'ansible_python_interpreter=/usr/bin/python3 novalite_libvirt_uri=qemu:///session '
                'novalite_instances_path={b} novalite_python=/usr/bin/python3 novalite_migration_key={b_key}\n'.format(
                    py=os.environ['ANSIBLE_PYTHON_INTERPRETER'], a=a_path, b=self.b_path,
                    key=os.environ['NOVALITE_HOSTB_SSH_KEY'], h=os.environ['NOVALITE_HOSTB_SSH_HOST'],
                    port=os.environ['NOVALITE_HOSTB_SSH_PORT'], user=os.environ['NOVALITE_HOSTB_USER'],
                    a_port=os.environ['NOVALITE_HOSTA_SSH_PORT'], b_key=os.environ['NOVALITE_HOSTB_MIGRATION_KEY']))

    # -- acting ------------------------------------------------------------------------
    def spawn_a(self, name, state='running', flavor=None):
        result = self.run_module('libvirt_instance', {
            'name': name, 'state': state, 'compute_host': 'hostA', 'instances_path': self.a_path,
            'virt_type': os.environ['NOVALITE_VIRT_TYPE'], 'image': {'url': 'file://' + os.environ['NOVALITE_TEST_IMAGE']},
            'flavor': flavor or {'vcpus': 1, 'memory_mb': 128, 'root_gb': 1, 'swap_mb': 16}})
        assert result['changed'] and not result.get('failed'), result.get('msg')
        return result['instance']

    def module(self, host, module, args, check=False):
        paths = {'hostA': self.a_path, 'hostB': self.b_path}
        uris = {'hostA': 'qemu:///system', 'hostB': 'qemu:///session'}
        full = dict(args, compute_host=host, instances_path=paths[host], uri=uris[host])
        return self.run_module(module, full, check=check, host=host, inventory=self.inventory)

    def playbook(self, *extra, check=False, source='hostA', dest='hostB'):
        cmd = ['ansible-playbook', '-i', self.inventory, PLAYBOOK, '-e', 'source_host=' + source,
               '-e', 'dest_host=' + dest] + list(extra) + (['--check'] if check else [])
        return subprocess.run(cmd, capture_output=True, text=True, timeout=900, check=False,
                              env=dict(os.environ, ANSIBLE_NOCOLOR='1'))

    # -- looking -----------------------------------------------------------------------
    def record(self, path, uuid):
        with open(os.path.join(path, '_records', uuid + '.json')) as handle:
            return json.load(handle)

    def migration(self, path, migration_id):
        with open(os.path.join(path, '_migrations', migration_id + '.json')) as handle:
            return json.load(handle)

    def domains(self, conn):
        return dict((d.UUIDString(), d) for d in conn.listAllDomains(0))

    def cleanup(self):
        for conn, prefix in ((self.conn_a, self.prefix), (self.conn_b, self.prefix)):
            for dom in conn.listAllDomains(0):
                if dom.name().startswith(prefix):
                    try:
                        if dom.isActive():
                            dom.destroy()
                        dom.undefine()
                    except libvirt.libvirtError:
                        pass
        subprocess.run(self.ssh + ['rm', '-rf', self.b_path], check=False)
        self.conn_b.close()


@pytest.fixture
def hosts(prefix, instances_path, tmp_path, run_module, conn):
    pair = TwoHosts(prefix, instances_path, tmp_path, run_module, conn)
    yield pair
    pair.cleanup()


def qemu_io(disk, command, write=False):
    argv = ['qemu-io', '-f', 'qcow2'] + ([] if write else ['-U', '-r']) + ['-c', command, disk]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    return proc.returncode == 0 and 'failed' not in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def write_marker(disk):
    ok, out = qemu_io(disk, 'write -P %s %s %s' % MARKER, write=True)
    assert ok, out


def has_marker(disk):
    return qemu_io(disk, 'read -P %s %s %s' % MARKER)


def stopped_with_marker(hosts, name, flavor=None):
    """A stopped instance on A with the marker in its root overlay."""
    inst = hosts.spawn_a(name, state='stopped', flavor=flavor)
    write_marker(os.path.join(inst['instance_dir'], 'disk'))
    return inst


def test_cold_migration_of_a_running_guest_then_confirm(hosts, console):
    inst = stopped_with_marker(hosts, hosts.prefix + '-c')
    uuid = inst['uuid']
    on_a = {'name': inst['name'], 'instances_path': hosts.a_path, 'compute_host': 'hostA'}
    started = hosts.run_module('libvirt_instance', on_a)
    assert started['instance']['vm_state'] == 'active'
    console(inst['console_log'], 'GUEST-READY')

    moved = hosts.playbook('-e', 'instance=' + inst['name'], '-e', 'confirm=false')
    assert moved.returncode == 0, moved.stdout[-4000:]
    assert 'migration of %s from hostA to hostB' % inst['name'] in moved.stdout

    # running on B, from B's own instance dir; A keeps its copy until confirm
    b_dir = os.path.join(hosts.b_path, uuid)
    dom_b = hosts.domains(hosts.conn_b)[uuid]
    assert dom_b.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    log = console(os.path.join(b_dir, 'console.log'), 'GUEST-READY')
    assert 'GUEST-INSTANCE-UUID=%s' % uuid in log
    assert 'GUEST-DISK vdb %d' % (16 * MiB) in log           # swap exists on B
    assert os.path.isdir(os.path.join(hosts.a_path, uuid + '_resize'))
    assert not os.path.exists(os.path.join(hosts.a_path, uuid))
    assert hosts.domains(hosts.conn_a)[uuid].state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
    record_b = hosts.record(hosts.b_path, uuid)
    assert (record_b['host'], record_b['vm_state'], record_b['task_state']) == ('hostB', 'resized', None)
    assert hosts.record(hosts.a_path, uuid)['host'] == 'hostB'

    # what crossed SSH: allocated data of everything but swap, verified
    migration = hosts.migration(hosts.b_path, record_b['migration']['id'])
    assert migration['status'] == 'finished' and migration['shared_storage'] is False
    sent = dict((f['name'], f) for f in migration['files'])
    assert '%s/disk.swap' % uuid not in sent
    assert {'%s/disk' % uuid, '%s/disk.config' % uuid, '%s/disk.info' % uuid} <= set(sent)
    resize_dir = os.path.join(hosts.a_path, uuid + '_resize')
    assert sent['%s/disk' % uuid]['bytes'] == allocated_bytes(os.path.join(resize_dir, 'disk'))
    assert sent['%s/disk' % uuid]['bytes'] <= sent['%s/disk' % uuid]['size']
    assert all(len(f['sha256'] or '') == 64 for f in migration['files'] if not f['skipped'])
    with open(os.path.join(hosts.a_path, '_records', uuid + '.actions.jsonl')) as handle:
        progress = [e for e in map(json.loads, handle)
                    if e['event'] == 'copy_progress' and e['file'] == '%s/disk' % uuid]
    assert progress and progress[-1]['bytes_done'] == progress[-1]['bytes_total'] == sent['%s/disk' % uuid]['bytes']
    ok, out = has_marker(os.path.join(b_dir, 'disk'))
    assert ok, out

    confirmed = hosts.playbook('-e', 'instance=' + inst['name'], '-e', 'resize_action=confirm')
    assert confirmed.returncode == 0, confirmed.stdout[-4000:]
    assert not os.path.exists(resize_dir)
    assert uuid not in hosts.domains(hosts.conn_a)
    record_b = hosts.record(hosts.b_path, uuid)
    assert (record_b['vm_state'], record_b['task_state'], record_b['old_flavor']) == ('active', None, None)
    assert hosts.migration(hosts.b_path, migration['id'])['status'] == 'confirmed'
    assert hosts.migration(hosts.a_path, migration['id'])['status'] == 'confirmed'
    # confirming twice changes nothing
    again = hosts.module('hostB', 'instance_migrate', {'name': inst['name'], 'step': 'confirm'})
    assert again['changed'] is False and not again.get('failed'), again.get('msg')
    # the old host refuses to act on an instance it no longer owns
    refused = hosts.run_module('libvirt_instance', dict(on_a, state='absent'))
    assert refused.get('failed') and 'owned by host hostB' in refused['msg']


def test_resize_on_b_then_revert_to_a(hosts, console):
    inst = stopped_with_marker(hosts, hosts.prefix + '-r')
    uuid = inst['uuid']
    hosts.run_module('libvirt_instance', {'name': inst['name'], 'instances_path': hosts.a_path,
                                          'compute_host': 'hostA'})
    console(inst['console_log'], 'GUEST-READY')
    bigger = {'vcpus': 2, 'memory_mb': 192, 'root_gb': 2, 'swap_mb': 32}
    moved = hosts.playbook('-e', 'instance=' + inst['name'], '-e', 'confirm=false',
                           '-e', json.dumps({'flavor': bigger}))
    assert moved.returncode == 0, moved.stdout[-4000:]

    dom_b = hosts.domains(hosts.conn_b)[uuid]
    assert dom_b.maxMemory() == 192 * 1024 and dom_b.info()[3] == 2
    log = console(os.path.join(hosts.b_path, uuid, 'console.log'), 'GUEST-READY')
    assert 'GUEST-CPUS 2' in log and 'GUEST-DISK vda %d' % (2 * 1024 * MiB) in log
    assert 'GUEST-DISK vdb %d' % (32 * MiB) in log
    source_disk = os.path.join(hosts.a_path, uuid + '_resize', 'disk')
    before = sha256_of(source_disk)

    reverted = hosts.playbook('-e', 'instance=' + inst['name'], '-e', 'resize_action=revert')
    assert reverted.returncode == 0, reverted.stdout[-4000:]
    assert uuid not in hosts.domains(hosts.conn_b)
    assert not os.path.exists(os.path.join(hosts.b_path, uuid))
    dom_a = hosts.domains(hosts.conn_a)[uuid]
    assert dom_a.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    assert dom_a.maxMemory() == 128 * 1024 and dom_a.info()[3] == 1
    disk = os.path.join(hosts.a_path, uuid, 'disk')
    assert sha256_of(disk) == before
    ok, out = has_marker(disk)
    assert ok, out
    console(inst['console_log'], 'GUEST-READY', count=2)
    record_a = hosts.record(hosts.a_path, uuid)
    assert (record_a['host'], record_a['vm_state'], record_a['task_state']) == ('hostA', 'active', None)
    assert record_a['flavor']['memory_mb'] == 128 and record_a['old_flavor'] is None
    assert hosts.record(hosts.b_path, uuid)['host'] == 'hostA'
    assert hosts.migration(hosts.a_path, record_a['migration']['id'])['status'] == 'reverted'


def test_resize_down_is_refused_and_check_mode_only_plans(hosts):
    inst = hosts.spawn_a(hosts.prefix + '-d', state='stopped')
    record_file = os.path.join(hosts.a_path, '_records', inst['uuid'] + '.json')
    with open(record_file, 'rb') as handle:
        before = handle.read()

    preview = hosts.playbook('-e', 'instance=' + inst['name'],
                             '-e', json.dumps({'flavor': {'vcpus': 2, 'memory_mb': 256, 'root_gb': 3}}), check=True)
    assert preview.returncode == 0, preview.stdout[-4000:]
    assert 'resize of %s from hostA to hostB' % inst['name'] in preview.stdout
    assert 'not copied: disk.swap' in preview.stdout

    down = hosts.playbook('-e', 'instance=' + inst['name'],
                          '-e', json.dumps({'flavor': {'vcpus': 1, 'memory_mb': 128, 'root_gb': 0}}))
    assert down.returncode != 0
    assert 'Unable to resize disk down' in down.stdout
    with open(record_file, 'rb') as handle:
        assert handle.read() == before
    assert not glob.glob(os.path.join(hosts.a_path, '_migrations', '*.json'))
    assert os.listdir(hosts.b_path) == []
    assert os.path.isdir(inst['instance_dir'])


def test_a_stopped_instance_stays_stopped(hosts):
    inst = hosts.spawn_a(hosts.prefix + '-s', state='stopped')
    uuid = inst['uuid']
    moved = hosts.playbook('-e', 'instance=' + inst['name'], '-e', 'confirm=false')
    assert moved.returncode == 0, moved.stdout[-4000:]
    assert hosts.domains(hosts.conn_b)[uuid].state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
    # the deprecated name of resize_action still works, with a warning
    reverted = hosts.playbook('-e', 'instance=' + inst['name'], '-e', 'action=revert')
    assert reverted.returncode == 0, reverted.stdout[-4000:]
    assert 'DEPRECATED: -e action=revert is the old name of -e resize_action=revert' in reverted.stdout
    assert hosts.domains(hosts.conn_a)[uuid].state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
    assert hosts.record(hosts.a_path, uuid)['vm_state'] == 'stopped'

    confirmed = hosts.playbook('-e', 'instance=' + inst['name'], '-e', 'confirm=auto')
    assert confirmed.returncode == 0, confirmed.stdout[-4000:]
    assert hosts.domains(hosts.conn_b)[uuid].state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
    record_b = hosts.record(hosts.b_path, uuid)
    assert (record_b['vm_state'], record_b['task_state'], record_b['power_state']) == ('stopped', None, 'shutdown')
    assert uuid not in hosts.domains(hosts.conn_a)
    assert not os.path.exists(os.path.join(hosts.a_path, uuid + '_resize'))


def test_there_and_back_again(hosts, console):
    """A -> B confirmed, then started on B and resized B -> A: host B is the
    source and pushes the disks to host A over its own SSH trust."""
    inst = stopped_with_marker(hosts, hosts.prefix + '-t')
    uuid = inst['uuid']
    there = hosts.playbook('-e', 'instance=' + inst['name'], '-e', 'confirm=true')
    assert there.returncode == 0, there.stdout[-4000:]
    assert not os.path.exists(os.path.join(hosts.a_path, uuid + '_resize'))
    started = hosts.module('hostB', 'libvirt_instance', {'name': inst['name']})
    assert started['changed'] and started['instance']['vm_state'] == 'active', started.get('msg')
    console(os.path.join(hosts.b_path, uuid, 'console.log'), 'GUEST-READY')

    bigger = {'vcpus': 1, 'memory_mb': 160, 'root_gb': 2, 'swap_mb': 16}
    back = hosts.playbook('-e', 'instance=' + inst['name'], '-e', 'confirm=auto',
                          '-e', json.dumps({'flavor': bigger}), source='hostB', dest='hostA')
    assert back.returncode == 0, back.stdout[-4000:]
    assert 'resize of %s from hostB to hostA' % inst['name'] in back.stdout

    # running on A from A's own instance dir, with the new flavor; B holds nothing
    dom_a = hosts.domains(hosts.conn_a)[uuid]
    assert dom_a.state()[0] == libvirt.VIR_DOMAIN_RUNNING and dom_a.maxMemory() == 160 * 1024
    log = console(os.path.join(hosts.a_path, uuid, 'console.log'), 'GUEST-READY')
    assert 'GUEST-DISK vda %d' % (2048 * MiB) in log
    record_a = hosts.record(hosts.a_path, uuid)
    assert (record_a['host'], record_a['vm_state'], record_a['task_state']) == ('hostA', 'active', None)
    assert record_a['flavor']['memory_mb'] == 160 and record_a['old_flavor'] is None
    migration = hosts.migration(hosts.a_path, record_a['migration']['id'])
    assert (migration['source_compute'], migration['dest_compute'], migration['status']) == ('hostB', 'hostA', 'confirmed')
    sent = dict((f['name'], f) for f in migration['files'])
    assert migration['shared_storage'] is False and sent['%s/disk' % uuid]['bytes'] > 0
    assert hosts.migration(hosts.b_path, migration['id'])['status'] == 'confirmed'
    assert uuid not in hosts.domains(hosts.conn_b)
    assert not os.path.exists(os.path.join(hosts.b_path, uuid))
    assert not os.path.exists(os.path.join(hosts.b_path, uuid + '_resize'))
    ok, out = has_marker(os.path.join(hosts.a_path, uuid, 'disk'))
    assert ok, out


def _descendants(pid):
    children = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open('/proc/%s/stat' % entry) as handle:
                    fields = handle.read().rsplit(')', 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_module(ansible_pid):
    """SIGKILL the module process (the AnsiballZ python) under this ansible run."""
    killed = []
    for pid in _descendants(ansible_pid):
        try:
            with open('/proc/%d/cmdline' % pid, 'rb') as handle:
                cmdline = handle.read()
        except OSError:
            continue
        if b'AnsiballZ_instance_migrate' in cmdline:
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)
    return killed


def test_killed_copy_leaves_the_source_recoverable(hosts, console):
    flavor = {'vcpus': 1, 'memory_mb': 128, 'root_gb': 2, 'swap_mb': 16}
    inst = hosts.spawn_a(hosts.prefix + '-k', state='stopped', flavor=flavor)
    uuid = inst['uuid']
    disk = os.path.join(inst['instance_dir'], 'disk')
    ok, out = qemu_io(disk, 'write -P 0x33 32M 768M', write=True)  # past the guest's filesystem
    assert ok, out
    write_marker(disk)
    before = sha256_of(disk)

    started = hosts.module('hostA', 'instance_migrate', {
        'name': inst['name'], 'step': 'start', 'dest_host': 'hostB',
        'dest_instances_path': hosts.b_path,
        'dest_ssh': {'host': os.environ['NOVALITE_HOSTB_SSH_HOST'], 'port': int(os.environ['NOVALITE_HOSTB_SSH_PORT']),
                     'user': os.environ['NOVALITE_HOSTB_USER'], 'identity_file': os.environ['NOVALITE_HOSTB_SSH_KEY'],
                     'python': '/usr/bin/python3'}})
    assert started['changed'], started.get('msg')
    migration = started['migration']
    prepped = hosts.module('hostB', 'instance_migrate', {'step': 'prep', 'migration': migration})
    assert prepped['changed'], prepped.get('msg')

    running = hosts.run_module.start('instance_migrate', {
        'name': inst['name'], 'step': 'migrate', 'compute_host': 'hostA', 'instances_path': hosts.a_path})
    part = os.path.join(hosts.b_path, uuid, 'disk.part')
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (os.path.exists(part) and os.stat(part).st_blocks > 0):
        time.sleep(0.02)
    assert os.path.exists(part), 'the copy never started'
    killed = _kill_module(running.proc.pid)
    assert killed
    running.proc.kill()
    running.proc.wait()

    # the receiver noticed the broken stream and removed its partial file
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and os.path.exists(part):
        time.sleep(0.1)
    assert not os.path.exists(part)
    record_a = hosts.record(hosts.a_path, uuid)
    assert record_a['task_state'] == 'resize_migrating' and record_a['host'] == 'hostA'

    # revert, destination then source: back as it was, bytes unchanged, startable
    dest = hosts.module('hostB', 'instance_migrate', {'step': 'revert', 'migration': migration})
    assert not dest.get('failed'), dest.get('msg')
    source = hosts.module('hostA', 'instance_migrate', {'name': inst['name'], 'step': 'revert'})
    assert source['changed'] and not source.get('failed'), source.get('msg')
    assert not os.path.exists(os.path.join(hosts.b_path, uuid))
    assert not os.path.exists(os.path.join(hosts.a_path, uuid + '_resize'))
    assert sha256_of(disk) == before
    record_a = hosts.record(hosts.a_path, uuid)
    assert (record_a['vm_state'], record_a['task_state']) == ('stopped', None)
    on_a = {'name': inst['name'], 'compute_host': 'hostA', 'instances_path': hosts.a_path}
    booted = hosts.run_module('libvirt_instance', on_a)
    assert booted['changed'] and booted['instance']['vm_state'] == 'active', booted.get('msg')
    console(inst['console_log'], 'GUEST-READY')
    shutil.rmtree(os.path.join(hosts.a_path, '_base'), ignore_errors=True)


def test_same_host_resize_confirm_and_revert(hosts):
    inst = stopped_with_marker(hosts, hosts.prefix + '-x')
    uuid = inst['uuid']
    resize_dir = os.path.join(hosts.a_path, uuid + '_resize')
    bigger = {'vcpus': 2, 'memory_mb': 160, 'root_gb': 2, 'swap_mb': 16}
    waiting = hosts.playbook('-e', 'instance=' + inst['name'], '-e', 'confirm=false',
                             '-e', json.dumps({'flavor': bigger}), dest='hostA')
    assert waiting.returncode == 0, waiting.stdout[-4000:]
    record = hosts.record(hosts.a_path, uuid)
    migration = hosts.migration(hosts.a_path, record['migration']['id'])
    assert migration['shared_storage'] is True and migration['status'] == 'finished'
    assert os.path.isdir(resize_dir) and record['vm_state'] == 'resized'
    dom = hosts.domains(hosts.conn_a)[uuid]
    assert dom.maxMemory() == 160 * 1024 and dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF   # it was stopped
    assert os.listdir(hosts.b_path) == []                                                  # nothing went to B

    reverted = hosts.playbook('-e', 'instance=' + inst['name'], '-e', 'resize_action=revert', dest='hostA')
    assert reverted.returncode == 0, reverted.stdout[-4000:]
    dom = hosts.domains(hosts.conn_a)[uuid]
    assert dom.maxMemory() == 128 * 1024 and not os.path.exists(resize_dir)
    record = hosts.record(hosts.a_path, uuid)
    assert (record['vm_state'], record['task_state'], record['flavor']['memory_mb']) == ('stopped', None, 128)
    ok, out = has_marker(os.path.join(hosts.a_path, uuid, 'disk'))
    assert ok, out

    confirmed = hosts.playbook('-e', 'instance=' + inst['name'], '-e', 'confirm=true',
                               '-e', json.dumps({'flavor': bigger}), dest='hostA')
    assert confirmed.returncode == 0, confirmed.stdout[-4000:]
    dom = hosts.domains(hosts.conn_a)[uuid]
    assert dom.maxMemory() == 160 * 1024 and dom.info()[3] == 2
    assert not os.path.exists(resize_dir)
    record = hosts.record(hosts.a_path, uuid)
    assert (record['vm_state'], record['task_state'], record['flavor']['root_gb']) == ('stopped', None, 2)
    assert hosts.migration(hosts.a_path, record['migration']['id'])['status'] == 'confirmed'


def test_failed_copy_puts_the_instance_back_on_the_source(hosts, console):
    inst = hosts.spawn_a(hosts.prefix + '-f')
    uuid = inst['uuid']
    console(inst['console_log'], 'GUEST-READY')
    unwritable = '/var/lib/novalite-test'            # root's, novalite-b cannot write there
    started = hosts.module('hostA', 'instance_migrate', {
        'name': inst['name'], 'step': 'start', 'dest_host': 'hostB', 'dest_instances_path': unwritable,
        'dest_ssh': {'host': os.environ['NOVALITE_HOSTB_SSH_HOST'], 'port': int(os.environ['NOVALITE_HOSTB_SSH_PORT']),
                     'user': os.environ['NOVALITE_HOSTB_USER'], 'identity_file': os.environ['NOVALITE_HOSTB_SSH_KEY'],
                     'python': '/usr/bin/python3'}})
    assert started['changed'], started.get('msg')
    prepped = hosts.module('hostB', 'instance_migrate', {'step': 'prep', 'migration': started['migration']})
    assert prepped['changed'], prepped.get('msg')

    failed = hosts.module('hostA', 'instance_migrate', {'name': inst['name'], 'step': 'migrate'})
    assert failed.get('failed') and failed['error'] == 'TransferError', failed
    assert failed['step'] == 'copy disks' and inst['name'] in failed['msg']
    record = hosts.record(hosts.a_path, uuid)
    assert (record['host'], record['vm_state'], record['task_state']) == ('hostA', 'active', None)
    assert record['fault']['step'] == 'copy disks'
    assert hosts.migration(hosts.a_path, started['migration']['id'])['status'] == 'error'
    assert os.path.isdir(inst['instance_dir']) and not os.path.exists(inst['instance_dir'] + '_resize')
    assert hosts.domains(hosts.conn_a)[uuid].state()[0] == libvirt.VIR_DOMAIN_RUNNING
    console(inst['console_log'], 'GUEST-READY', count=2)     # powered off for the copy, started again


def test_reconcile_playbook_decides_ownership_from_every_host(hosts, tmp_path):
    """A's record still says hostA, but B's newer record says hostB (the
    instance was moved or evacuated there): reconcile.yml reads both hosts
    first, so A destroys its leftover domain and keeps the disks."""
    inst = hosts.spawn_a(hosts.prefix + '-o', state='stopped')
    uuid = inst['uuid']
    hosts.conn_a.lookupByUUIDString(uuid).create()
    record = hosts.record(hosts.a_path, uuid)
    record.update(host='hostB', updated_at='2999-01-01T00:00:00.000000Z')
    staged = tmp_path / 'record.json'
    staged.write_text(json.dumps(record))
    subprocess.run(hosts.ssh + ['mkdir', '-p', hosts.b_path + '/_records'], check=True)
    with open(str(staged)) as handle:
        subprocess.run(hosts.ssh + ['cat > %s/_records/%s.json' % (hosts.b_path, uuid)], stdin=handle, check=True)

    playbook = os.path.join(os.path.dirname(PLAYBOOK), 'reconcile.yml')
    preview = subprocess.run(['ansible-playbook', '-i', hosts.inventory, playbook, '--check'],
                             capture_output=True, text=True, check=False)
    assert preview.returncode == 0, preview.stdout[-3000:]
    assert hosts.domains(hosts.conn_a)[uuid].state()[0] == libvirt.VIR_DOMAIN_RUNNING

    done = subprocess.run(['ansible-playbook', '-i', hosts.inventory, playbook], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout[-3000:]
    assert '%s (%s): destroy_domain - instance belongs to hostB' % (inst['name'], uuid) in done.stdout, done.stdout[-3000:]
    assert uuid not in hosts.domains(hosts.conn_a)
    assert os.path.exists(os.path.join(inst['instance_dir'], 'disk'))
    assert hosts.record(hosts.a_path, uuid)['host'] == 'hostA'     # A's own record is left as it was
    # Round 2 runs because round 1 changed something; in check mode, and on a
    # fleet round 1 found consistent, it is skipped on every host.
    assert _round_two_ran(done.stdout) == {'hostA': True, 'hostB': True}, done.stdout[-3000:]
    assert _round_two_ran(preview.stdout) == {'hostA': False, 'hostB': False}, preview.stdout[-3000:]
    again = subprocess.run(['ansible-playbook', '-i', hosts.inventory, playbook], capture_output=True, text=True,
                           check=False)
    assert again.returncode == 0 and 'changed=0' in again.stdout and 'changed=1' not in again.stdout, \
        again.stdout[-3000:]
    assert _round_two_ran(again.stdout) == {'hostA': False, 'hostB': False}, again.stdout[-3000:]


def test_reconcile_playbook_settles_power_corrections_in_one_round(hosts):
    """A stopped instance started behind the collection's back is stopped
    again by round 1 on its host alone: round 2 is skipped, and a second
    run has nothing to do."""
    inst = hosts.spawn_a(hosts.prefix + '-p', state='stopped')
    hosts.conn_a.lookupByUUIDString(inst['uuid']).create()
    playbook = os.path.join(os.path.dirname(PLAYBOOK), 'reconcile.yml')
    done = subprocess.run(['ansible-playbook', '-i', hosts.inventory, playbook], capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stdout[-3000:]
    assert '%s (%s): ' % (inst['name'], inst['uuid']) in done.stdout, done.stdout[-3000:]
    assert hosts.domains(hosts.conn_a)[inst['uuid']].state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
    assert _round_two_ran(done.stdout) == {'hostA': False, 'hostB': False}, done.stdout[-3000:]
    again = subprocess.run(['ansible-playbook', '-i', hosts.inventory, playbook], capture_output=True, text=True,
                           check=False)
    assert again.returncode == 0 and 'changed=1' not in again.stdout, again.stdout[-3000:]


def _round_two_ran(stdout):
    """Per host: did the round 2 read of reconcile.yml run (ok or changed) or was it skipped."""
    play = stdout.split('PLAY [Round 2 - read every hypervisor again]', 1)[1].split('PLAY [', 1)[0]
    ran = {}
    for line in play.splitlines():
        for verdict, value in (('ok: [', True), ('changed: [', True), ('skipping: [', False)):
            if line.startswith(verdict):
                ran[line[len(verdict):].split(']', 1)[0]] = value
    return ran


def test_inventory_plugin_lists_instances_of_both_hosts(hosts, tmp_path):
    on_a = hosts.spawn_a(hosts.prefix + '-ia', state='stopped')
    on_b = hosts.module('hostB', 'libvirt_instance', {
        'name': hosts.prefix + '-ib', 'state': 'stopped', 'virt_type': os.environ['NOVALITE_VIRT_TYPE'],
        'image': {'url': 'file://' + os.environ['NOVALITE_TEST_IMAGE']},
        'flavor': {'name': 'm1.tiny', 'vcpus': 1, 'memory_mb': 64}})
    assert on_b['changed'] and not on_b.get('failed'), on_b.get('msg')
    config = tmp_path / 'novalite.yml'
    config.write_text(json.dumps({
        'plugin': 'novalite.compute.instances',
        'hypervisors': [
            {'name': 'hostA', 'instances_path': hosts.a_path},
            {'name': 'hostB', 'instances_path': hosts.b_path, 'ssh_host': os.environ['NOVALITE_HOSTB_SSH_HOST'],
             'ssh_port': int(os.environ['NOVALITE_HOSTB_SSH_PORT']), 'ssh_user': os.environ['NOVALITE_HOSTB_USER'],
             'ssh_key': os.environ['NOVALITE_HOSTB_SSH_KEY'], 'python': '/usr/bin/python3'}],
        'keyed_groups': [{'key': 'novalite_flavor.vcpus | string', 'prefix': 'vcpus'}]}))
    graph = subprocess.run(['ansible-inventory', '-i', str(config), '--graph'], capture_output=True, text=True,
                           check=False)
    assert graph.returncode == 0, graph.stderr
    assert '@vm_state_stopped:' in graph.stdout and '@hypervisor_hostB:' in graph.stdout, graph.stderr
    listed = json.loads(subprocess.run(['ansible-inventory', '-i', str(config), '--list'], capture_output=True,
                                       text=True, check=True).stdout)
    assert set(listed['vm_state_stopped']['hosts']) == {on_a['name'], on_b['instance']['name']}
    assert listed['hypervisor_hostA']['hosts'] == [on_a['name']]
    assert listed['flavor_m1_tiny']['hosts'] == [on_b['instance']['name']]
    assert set(listed['vcpus_1']['hosts']) == {on_a['name'], on_b['instance']['name']}
    # ansible-core marks variables from an inventory source as unsafe in --list output
    hostvars = dict((k, v.get('__ansible_unsafe', v) if isinstance(v, dict) else v)
                    for k, v in listed['_meta']['hostvars'][on_b['instance']['name']].items())
    assert hostvars['novalite_uuid'] == on_b['instance']['uuid'] and hostvars['novalite_hypervisor'] == 'hostB'
    assert (hostvars['novalite_vm_state'], hostvars['novalite_power_state']) == ('stopped', 'shutdown')
