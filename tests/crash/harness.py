"""The crash-point suite's hands: two real hypervisors (host A: root's
qemu:///system; host B: novalite-b's qemu:///session behind its own sshd,
see tests/tools/second_host.sh), a way to run a module's real code on
either with a crash point armed, a host power loss, the one recovery
command, and the invariants every recovered instance must meet.

A module is run as Ansible runs it on a host - its own process, its
arguments on stdin - but without the controller around it, so that the
crash point kills the module process and nothing else; the recovery is
always the real ``playbooks/reconcile.yml`` through ansible-playbook."""

import glob
import json
import os
import shlex
import signal
import subprocess
import time

import libvirt

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RECONCILE = os.path.join(ROOT, 'playbooks', 'reconcile.yml')
SHARED_HOST = os.path.join(ROOT, 'tests', 'tools', 'shared_host.sh')
HOSTB_HOME = '/var/lib/novalite-hostb'
VENV_PYTHON = os.path.join(ROOT, '.venv', 'bin', 'python')
RUNNER = ('import importlib, os; importlib.import_module('
          '"ansible_collections.novalite.compute.plugins.modules." + os.environ["NOVALITE_CRASH_MODULE"]).main()')
KILLED = 'killed'


class Host(object):
    def __init__(self, name, path, uri):
        self.name = name
        self.path = path
        self.uri = uri

    def args(self, extra):
        return dict(extra, compute_host=self.name, instances_path=self.path, uri=self.uri)

    # -- files --------------------------------------------------------------------
    def json(self, *parts):
        try:
            with open(os.path.join(self.path, *parts)) as handle:
                return json.load(handle)
        except FileNotFoundError:
            return None

    def record(self, uuid):
        return self.json('_records', uuid + '.json')

    def migrations_of(self, uuid):
        found = []
        for path in glob.glob(os.path.join(self.path, '_migrations', '*.json')):
            with open(path) as handle:
                data = json.load(handle)
            if data.get('instance_uuid') == uuid:
                found.append(data)
        return found

    def stray_files(self):
        """Partial, temporary and probe files anywhere under instances_path."""
        stray = []
        for dirpath, _dirs, files in os.walk(self.path):
            for name in files:
                if name.endswith(('.part', '.tmp', '.converted')) or name.startswith(('.tmp-', '.novalite-probe-')):
                    stray.append(os.path.join(dirpath, name))
        return stray


class HostA(Host):
    def __init__(self, path):
        super().__init__('hostA', path, 'qemu:///system')

    def connect(self):
        return libvirt.open(self.uri)

    def command(self, module, failpoint):
        env = dict(os.environ, NOVALITE_CRASH_MODULE=module, PYTHONPATH=os.environ['ANSIBLE_COLLECTIONS_PATH'])
        env.pop('NOVALITE_FAILPOINT', None)
        if failpoint:
            env['NOVALITE_FAILPOINT'] = failpoint
        return [VENV_PYTHON, '-c', RUNNER], env

    def restart_libvirtd(self):
        _restart_root_libvirtd()


class HostC(HostA):
    """A second root libvirtd in its own mount namespace
    (tests/tools/shared_host.sh) sharing host A's instances_path: every
    record, lock and migration of host A is in its directory too."""

    def __init__(self, path):
        super().__init__(path)
        self.name = 'hostC'
        self.uri = os.environ['NOVALITE_HOSTC_URI']

    def restart_libvirtd(self):
        subprocess.run(['bash', SHARED_HOST, '--restart'], check=True, timeout=60)


class HostB(Host):
    def __init__(self, path):
        super().__init__('hostB', path, 'qemu:///session')
        self.ssh = ['ssh', '-o', 'BatchMode=yes', '-i', os.environ['NOVALITE_HOSTB_SSH_KEY'],
                    '-p', os.environ['NOVALITE_HOSTB_SSH_PORT'],
                    '%s@%s' % (os.environ['NOVALITE_HOSTB_USER'], os.environ['NOVALITE_HOSTB_SSH_HOST'])]

    def connect(self):
        return libvirt.open('qemu+unix:///session?socket=%s/.cache/libvirt/libvirt-sock' % HOSTB_HOME)

    def command(self, module, failpoint):
        env = ['NOVALITE_CRASH_MODULE=' + module, 'PYTHONPATH=' + os.environ['ANSIBLE_COLLECTIONS_PATH']]
        if failpoint:
            env.append('NOVALITE_FAILPOINT=' + failpoint)
        remote = 'env %s %s -c %s; echo NOVALITE-EXIT=$? >&2' % (
            ' '.join(shlex.quote(e) for e in env), VENV_PYTHON, shlex.quote(RUNNER))
        return self.ssh + [remote], dict(os.environ)

    def restart_libvirtd(self):
        script = ('for pid in $(pgrep -u "$(id -u)" -x libvirtd); do kill $pid; '
                  'while kill -0 $pid 2>/dev/null; do sleep 0.1; done; done; /usr/sbin/libvirtd -d; '
                  'for i in $(seq 50); do [ -S ~/.cache/libvirt/libvirt-sock ] && break; sleep 0.1; done; '
                  'virsh -q -c qemu:///session list --all >/dev/null')
        subprocess.run(self.ssh + [script], check=True, timeout=60)

    def mkdir(self):
        subprocess.run(self.ssh + ['mkdir', '-p', self.path], check=True)

    def remove(self):
        subprocess.run(self.ssh + ['rm', '-rf', self.path], check=False)


def run(host, module, args, failpoint=None, timeout=300):
    """Run ``module`` on ``host`` with ``args``. Returns the result dict, or
    KILLED when the process died by SIGKILL (the crash point fired)."""
    argv, env = host.command(module, failpoint)
    payload = json.dumps({'ANSIBLE_MODULE_ARGS': host.args(args)})
    proc = subprocess.run(argv, input=payload, capture_output=True, text=True, env=env, timeout=timeout,
                          check=False)
    exit_code = proc.returncode
    if isinstance(host, HostB):
        marks = [line for line in proc.stderr.splitlines() if line.startswith('NOVALITE-EXIT=')]
        exit_code = int(marks[-1].split('=')[1]) if marks else 255
        exit_code = -signal.SIGKILL if exit_code == 128 + signal.SIGKILL else exit_code
    if exit_code == -signal.SIGKILL:
        return KILLED
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        raise AssertionError('%s on %s gave no result (exit %s): %s %s'
                             % (module, host.name, exit_code, proc.stdout[-2000:], proc.stderr[-2000:]))


def ok(host, module, args):
    result = run(host, module, args)
    assert result != KILLED and not result.get('failed'), (module, host.name, args, result)
    return result


def host_a_libvirtd_pid():
    """Host A's libvirtd (its pid file; host C's daemon keeps its own)."""
    try:
        with open('/run/libvirtd.pid') as handle:
            pid = int(handle.read().strip())
    except (OSError, ValueError):
        return None
    return pid if os.path.exists('/proc/%d' % pid) else None


def _restart_root_libvirtd():
    pid = host_a_libvirtd_pid()
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        while os.path.exists('/proc/%s' % pid):
            time.sleep(0.1)
    subprocess.run(['libvirtd', '-d'], check=True)
    for _attempt in range(100):
        if os.path.exists('/run/libvirt/libvirt-sock'):
            try:
                libvirt.open('qemu:///system').close()
                return
            except libvirt.libvirtError:
                pass
        time.sleep(0.1)
    raise AssertionError('libvirtd did not come back')


def kill_guests(uuids):
    """SIGKILL the QEMU process of each instance, on either host."""
    for uuid in uuids:
        subprocess.run(['pkill', '-9', '-f', '--', '-uuid %s' % uuid], check=False)


def wait_shutoff(host, uuid, timeout=30):
    """Until libvirt reports the domain shut off (its QEMU was killed)."""
    deadline = time.monotonic() + timeout
    conn = host.connect()
    try:
        while conn.lookupByUUIDString(uuid).state()[0] != libvirt.VIR_DOMAIN_SHUTOFF:
            if time.monotonic() > deadline:
                raise AssertionError('%s still not shut off on %s' % (uuid, host.name))
            time.sleep(0.1)
    finally:
        conn.close()


def recover(inventory):
    """The one recovery command. Returns (returncode, stdout)."""
    proc = subprocess.run(['ansible-playbook', '-i', inventory, RECONCILE], capture_output=True, text=True,
                          timeout=900, check=False, env=dict(os.environ, ANSIBLE_NOCOLOR='1'))
    return proc.returncode, proc.stdout


def recap_changed(stdout):
    """{host: changed count} from the PLAY RECAP."""
    changed = {}
    for line in stdout.splitlines():
        if ' changed=' in line and ' ok=' in line:
            host = line.split(':')[0].strip()
            changed[host] = int(line.split(' changed=')[1].split()[0])
    return changed


def inventory_text(a, b, c=None):
    text = ('[hypervisors]\n'
            'hostA ansible_connection=local ansible_python_interpreter={py} novalite_libvirt_uri=qemu:///system '
            'novalite_instances_path={a}\n'
            'hostB ansible_host={h} ansible_port={port} ansible_user={user} ansible_ssh_private_key_file={key} '
            'ansible_python_interpreter=/usr/bin/python3 novalite_libvirt_uri=qemu:///session '
            'novalite_instances_path={b}\n').format(
                py=os.environ['ANSIBLE_PYTHON_INTERPRETER'], a=a.path, b=b.path,
                key=os.environ['NOVALITE_HOSTB_SSH_KEY'], h=os.environ['NOVALITE_HOSTB_SSH_HOST'],
                port=os.environ['NOVALITE_HOSTB_SSH_PORT'], user=os.environ['NOVALITE_HOSTB_USER'])
    if c is not None:
        line = 'hostC ansible_connection=local ansible_python_interpreter={py} "novalite_libvirt_uri={uri}" ' \
               'novalite_instances_path={c}\n'
        text += line.format(py=os.environ['ANSIBLE_PYTHON_INTERPRETER'], uri=c.uri, c=c.path)
    return text


def domain_states(conns, uuid):
    """{host name: 'running' | 'shutoff' | other | None}."""
    names = {libvirt.VIR_DOMAIN_RUNNING: 'running', libvirt.VIR_DOMAIN_SHUTOFF: 'shutoff',
             libvirt.VIR_DOMAIN_PAUSED: 'paused', libvirt.VIR_DOMAIN_CRASHED: 'crashed'}
    states = {}
    for name, conn in conns.items():
        try:
            states[name] = names.get(conn.lookupByUUIDString(uuid).state()[0], 'other')
        except libvirt.libvirtError:
            states[name] = None
    return states


def invariants(hosts, conns, uuid, expect_owner=True):
    """What must hold for one instance after recovery; returns the problems
    found (empty when consistent) and the owner's name."""
    problems = []
    records = dict((h.name, h.record(uuid)) for h in hosts)
    owners = [name for name, rec in records.items()
              if rec and rec['host'] == name and rec['vm_state'] != 'deleted']
    domains = domain_states(conns, uuid)
    if len(owners) != (1 if expect_owner else 0):
        problems.append('owners: %s' % (owners or 'none'))
    owner = owners[0] if len(owners) == 1 else None
    if owner:
        rec = records[owner]
        if rec['task_state'] is not None:
            problems.append('task_state %s left on %s' % (rec['task_state'], owner))
        power = domains[owner]
        vm = rec['vm_state']
        old = (rec.get('system_metadata') or {}).get('old_vm_state')
        want = {'active': ('running',), 'stopped': ('shutoff', None),
                'resized': ('shutoff',) if old == 'stopped' else ('running',)}.get(vm)
        if want is not None and power not in want:
            problems.append('vm_state %s but the domain on %s is %s' % (vm, owner, power))
    owner_path = [h.path for h in hosts if h.name == owner]
    for host in hosts:
        if host.name != owner:
            if domains[host.name] == 'running':
                problems.append('a domain runs on %s, which does not own it' % host.name)
            # on a shared instances_path the owner's directory is this host's too
            if host.path not in owner_path and os.path.isdir(os.path.join(host.path, uuid)):
                problems.append('instance dir left on %s' % host.name)
        problems += ['stray file %s' % path for path in host.stray_files() if uuid in path or '_base' in path
                     or '_records' in path or '_migrations' in path or 'probe' in path]
    awaiting = owner is not None and records[owner]['vm_state'] == 'resized'
    for host in hosts:
        for migration in host.migrations_of(uuid):
            if migration['status'] not in ('confirmed', 'reverted', 'error', 'completed', 'cancelled') \
                    and not awaiting:
                problems.append('migration %s left %s on %s'
                                % (migration['id'][:8], migration['status'], host.name))
    return problems, owner
