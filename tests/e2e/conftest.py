"""End-to-end tier: a real Debian 12 cloud image (tests/images/build-cloud-image.sh)
with cloud-init, driven through the collection's playbooks and modules on the
two test hypervisors of the crash suite (host A: root's qemu:///system; host B:
novalite-b's qemu:///session over SSH).

The guest is observed only from outside: its serial console log, libvirt, the
DHCP leases of its isolated network and the QEMU guest agent. There is no
network connection from the host into the guest.

Needs the environment scripts/setup.sh writes (build/novalite.env). Missing
prerequisites fail the tests; they are never skipped.
"""

import glob
import http.server
import json
import os
import re
import shlex
import shutil
import socketserver
import subprocess
import sys
import threading
import time
import uuid as uuidlib

import libvirt
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, 'tests', 'crash'))

import harness  # noqa: E402  (the crash suite's two hypervisors, power loss and recovery command)

REQUIRED_ENV = ('ANSIBLE_COLLECTIONS_PATH', 'NOVALITE_VIRT_TYPE', 'NOVALITE_HOSTB_SSH_KEY', 'NOVALITE_HOSTB_INSTANCES',
                'NOVALITE_HOSTA_SSH_PORT', 'NOVALITE_HOSTB_MIGRATION_KEY')
BUILD_IMAGE = os.path.join(ROOT, 'tests', 'images', 'build-cloud-image.sh')
ENSURE_NETWORK = os.path.join(ROOT, 'tests', 'tools', 'ensure_network.py')
TEST_ROOT = '/var/lib/novalite-test'
NETWORK = 'novalite-e2e'
NETWORK_BRIDGE = 'nlbr-e2e0'
NETWORK_ADDRESS = '192.168.233.1/24'
# Under TCG a first boot of the cloud image to cloud-init "final" takes about
# 80 s on an idle machine; allow for a loaded 2-core CI machine.
BOOT_TIMEOUT = 480


def pytest_configure(config):
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        raise pytest.UsageError('the e2e tier needs %s: source build/novalite.env (scripts/setup.sh)'
                                % ', '.join(missing))


# -- the image, served as a user would serve it -------------------------------------------

@pytest.fixture(scope='session')
def cloud_image():
    """The cached Debian 12 cloud image (built on the first run, ~2 minutes)."""
    proc = subprocess.run(['bash', BUILD_IMAGE], capture_output=True, text=True, check=False, timeout=1800)
    assert proc.returncode == 0, 'building the cloud image failed:\n%s' % proc.stderr[-4000:]
    return proc.stdout.strip().splitlines()[-1]


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_args):
        pass


@pytest.fixture(scope='session')
def image_server(cloud_image, tmp_path_factory):
    """An HTTP server on 127.0.0.1 with the image and its SHA256SUMS, like a
    distribution's mirror. ``.image_url`` and ``.checksum`` are what a
    playbook gives libvirt_instance."""
    root = tmp_path_factory.mktemp('www')
    name = 'debian-12-genericcloud-amd64.qcow2'
    shutil.copyfile(cloud_image, str(root / name))
    digest = subprocess.run(['sha256sum', name], cwd=str(root), capture_output=True, text=True,
                            check=True).stdout.split()[0]
    (root / 'SHA256SUMS').write_text('%s  %s\n' % (digest, name))

    def handler(*args, **kwargs):
        return _QuietHandler(*args, directory=str(root), **kwargs)

    server = socketserver.ThreadingTCPServer(('127.0.0.1', 0), handler)
    server.daemon_threads = True
    server.image_url = 'http://127.0.0.1:%d/%s' % (server.server_address[1], name)
    server.checksum = 'sha256:' + digest
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope='session')
def e2e_network():
    """An isolated libvirt network with DHCP (no <forward>: nothing leaves the machine)."""
    subprocess.run([sys.executable, ENSURE_NETWORK, NETWORK, NETWORK_BRIDGE, NETWORK_ADDRESS], check=True)
    return NETWORK


# -- the two hypervisors ---------------------------------------------------------------------

class Fleet(object):
    """Host A and host B with private instances_paths, an inventory for the
    playbooks, and libvirt connections for looking."""

    def __init__(self, tmp_path):
        tag = 'e2e-%s' % uuidlib.uuid4().hex[:6]
        os.makedirs(TEST_ROOT, exist_ok=True)
        os.chmod(TEST_ROOT, 0o755)
        self.a = harness.HostA(os.path.join(TEST_ROOT, tag))
        self.b = harness.HostB(os.path.join(os.environ['NOVALITE_HOSTB_INSTANCES'], tag))
        self._remove_earlier_runs()
        os.makedirs(self.a.path)
        self.b.mkdir()
        self.hosts = {'hostA': self.a, 'hostB': self.b}
        self.inventory = str(tmp_path / 'hosts.ini')
        env = os.environ
        with open(self.inventory, 'w') as handle:
            handle.write(
                '[hypervisors]\n'
                'hostA ansible_connection=local ansible_python_interpreter={py} novalite_libvirt_uri=qemu:///system '
                'novalite_instances_path={a} novalite_migration_key={key} '
                'novalite_ssh_host={h} novalite_ssh_port={a_port} novalite_ssh_user=root\n'
                'hostB ansible_host={h} ansible_port={port} ansible_user={user} ansible_ssh_private_key_file={key} '
                'ansible_python_interpreter=/usr/bin/python3 novalite_libvirt_uri=qemu:///session '
                'novalite_instances_path={b} novalite_python=/usr/bin/python3 novalite_migration_key={b_key}\n'
                .format(py=env['ANSIBLE_PYTHON_INTERPRETER'], a=self.a.path, b=self.b.path,
                        key=env['NOVALITE_HOSTB_SSH_KEY'], h=env['NOVALITE_HOSTB_SSH_HOST'],
                        port=env['NOVALITE_HOSTB_SSH_PORT'], user=env['NOVALITE_HOSTB_USER'],
                        a_port=env['NOVALITE_HOSTA_SSH_PORT'], b_key=env['NOVALITE_HOSTB_MIGRATION_KEY']))

    def _remove_earlier_runs(self):
        """What a run that was killed before its teardown left: its domains
        (their disks under an e2e-* instances_path of either host) and
        those instances_paths. Nothing else is touched."""
        roots = [os.path.dirname(self.a.path) + '/e2e-', os.path.dirname(self.b.path) + '/e2e-']
        for host in (self.a, self.b):
            conn = host.connect()
            try:
                for dom in conn.listAllDomains(0):
                    if any("file='%s" % root in dom.XMLDesc(0) for root in roots):
                        if dom.isActive():
                            dom.destroy()
                        dom.undefine()
            finally:
                conn.close()
        for stale in glob.glob(roots[0] + '*'):
            shutil.rmtree(stale, ignore_errors=True)
        subprocess.run(self.b.ssh + ['rm -rf %s*' % shlex.quote(roots[1])], check=False)

    def playbook(self, playbook, extra_vars=None, timeout=1200):
        """ansible-playbook against both hosts; returns the CompletedProcess."""
        cmd = ['ansible-playbook', '-i', self.inventory, playbook]
        if extra_vars:
            cmd += ['-e', json.dumps(extra_vars)]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                              env=dict(os.environ, ANSIBLE_NOCOLOR='1'))

    def domain(self, host, uuid):
        conn = self.hosts[host].connect()
        try:
            return conn.lookupByUUIDString(uuid)
        except libvirt.libvirtError:
            return None

    def owner(self, uuid):
        """The host whose record says it owns the instance (None when none does)."""
        for name, host in self.hosts.items():
            record = host.record(uuid)
            if record and record['host'] == name and record['vm_state'] != 'deleted':
                return name
        return None

    def console(self, uuid):
        return Console(self, uuid)

    def cleanup(self):
        for host in self.hosts.values():
            conn = host.connect()
            try:
                for dom in conn.listAllDomains(0):
                    if os.path.isdir(os.path.join(host.path, dom.UUIDString())) or \
                            host.record(dom.UUIDString()) is not None:
                        try:
                            if dom.isActive():
                                dom.destroy()
                            dom.undefine()
                        except libvirt.libvirtError:
                            pass
            finally:
                conn.close()
        shutil.rmtree(self.a.path, ignore_errors=True)
        self.b.remove()


@pytest.fixture(scope='session')
def fleet(tmp_path_factory):
    hosts = Fleet(tmp_path_factory.mktemp('fleet'))
    yield hosts
    hosts.cleanup()


# -- the guest's serial console --------------------------------------------------------------

class Console(object):
    """The serial console log of one instance, on either host. Each host
    appends to its own file, and a move or a revert can bring back a log that
    already holds earlier boots, so boots are told apart by the boot id the
    guest prints on every boot, not by file positions: ``mark()`` remembers
    every boot seen so far, ``boot(host, new=True)`` waits for one that came
    after the mark."""

    def __init__(self, fleet, uuid):
        self.fleet = fleet
        self.uuid = uuid
        self.known = set()

    def path(self, host):
        return os.path.join(self.fleet.hosts[host].path, self.uuid, 'console.log')

    def text(self, host):
        try:
            with open(self.path(host), 'rb') as handle:
                return handle.read().decode('utf-8', 'replace')
        except FileNotFoundError:
            return ''

    def boots(self, host, final, boot_id):
        """[(boot id, the text of that boot)] of every boot that got to
        cloud-init's final stage; a boot's text runs from the end of the
        previous one (its shutdown included) to its own final line."""
        text = self.text(host)
        found, start = [], 0
        for match in re.finditer(final, text):
            chunk = text[start:match.end()]
            ids = re.findall(boot_id, chunk)
            found.append((ids[-1] if ids else None, chunk))
            start = match.end()
        return found

    def mark(self, final, boot_id):
        for host in self.fleet.hosts:
            self.known.update(ident for ident, _text in self.boots(host, final, boot_id))

    def boot(self, host, final, boot_id, new, timeout=BOOT_TIMEOUT):
        """The text of the newest finished boot on ``host``; with ``new``,
        waiting for the first one not seen at the mark."""
        deadline = time.monotonic() + timeout
        boots = []
        while time.monotonic() < deadline:
            boots = self.boots(host, final, boot_id)
            fresh = [chunk for ident, chunk in boots if ident not in self.known] if new else \
                [chunk for _ident, chunk in boots[-1:]]
            if fresh:
                return fresh[0]
            time.sleep(1)
        raise AssertionError('no %sfinished boot on the console of %s on %s within %ss; its end:\n%s'
                             % ('new ' if new else '', self.uuid, host, timeout, self.text(host)[-4000:]))
