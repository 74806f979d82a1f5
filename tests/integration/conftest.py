"""Integration fixtures: real libvirtd (qemu:///system), the tiny test guest,
modules run through Ansible itself (``ansible localhost -m ...`` with the test
callback ``result_file`` writing the raw result),
so argument parsing, check mode, diff mode and no_log are the real ones.

Needs the environment written by scripts/setup.sh (build/novalite.env).
Missing prerequisites fail the tests; they are never skipped.
"""

import hashlib
import http.server
import json
import os
import shutil
import socketserver
import subprocess
import threading
import time
import uuid

import libvirt
import pytest

REQUIRED_ENV = ('ANSIBLE_COLLECTIONS_PATH', 'NOVALITE_TEST_IMAGE', 'NOVALITE_VIRT_TYPE', 'NOVALITE_TEST_NETWORK')
TEST_ROOT = '/var/lib/novalite-test'


def pytest_configure(config):
    config.addinivalue_line('markers', 'serial: restarts libvirtd; run alone, after the parallel tests')
    missing = [name for name in REQUIRED_ENV if not os.environ.get(name)]
    if missing:
        raise pytest.UsageError('integration tests need %s: source build/novalite.env (scripts/setup.sh)'
                                % ', '.join(missing))


@pytest.fixture(scope='session')
def conn():
    libvirt.registerErrorHandler(lambda _c, _e: None, None)
    connection = libvirt.open('qemu:///system')
    yield connection
    connection.close()


@pytest.fixture
def prefix(request):
    """A unique name prefix for this test's instances."""
    return 'it-%s-%s' % (request.node.name[:20].replace('[', '-').replace(']', '').replace('_', '-'),
                         uuid.uuid4().hex[:6])


@pytest.fixture
def instances_path(prefix, conn):
    """A private instances_path (QEMU must traverse it, so not under /tmp).
    Every domain left behind by the test is destroyed afterwards."""
    path = os.path.join(TEST_ROOT, prefix)
    os.makedirs(path)
    os.chmod(TEST_ROOT, 0o755)
    yield path
    for dom in conn.listAllDomains(0):
        if dom.name().startswith(prefix):
            try:
                if dom.isActive():
                    dom.destroy()
                dom.undefineFlags(libvirt.VIR_DOMAIN_UNDEFINE_NVRAM | libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE)
            except libvirt.libvirtError:
                pass
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope='session')
def image_path():
    return os.environ['NOVALITE_TEST_IMAGE']


@pytest.fixture(scope='session')
def image_url(image_path):
    return 'file://' + image_path


@pytest.fixture(scope='session')
def virt_type():
    return os.environ['NOVALITE_VIRT_TYPE']


@pytest.fixture(scope='session')
def network():
    return os.environ['NOVALITE_TEST_NETWORK']


CALLBACKS = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'callback_plugins')


class ModuleRunner(object):
    """Runs a module with ``ansible localhost -m``; the test callback
    ``result_file`` writes the raw result (failed flag and diff included)."""

    def __init__(self, tmpdir):
        self.tmpdir = tmpdir
        self.calls = 0

    def __call__(self, module, args, check=False, diff=False, host='localhost', inventory=None, background=None):
        """Run one module on ``host``; return its result dict (failed ones too).
        ``background=(seconds, poll)`` runs it with Ansible's async/poll."""
        return self.start(module, args, check=check, diff=diff, host=host, inventory=inventory,
                          background=background).wait_result()

    def start(self, module, args, check=False, diff=False, host='localhost', inventory=None, background=None):
        """Start a module run in the background (for concurrency tests)."""
        self.calls += 1
        result_file = os.path.join(self.tmpdir, 'result-%d.json' % self.calls)
        cmd = ['ansible', host, '-m', 'novalite.compute.%s' % module, '-a', json.dumps(args)]
        if inventory:
            cmd += ['-i', inventory]
        if background:
            cmd += ['-B', str(background[0]), '-P', str(background[1])]
        if check:
            cmd.append('--check')
        if diff:
            cmd.append('--diff')
        env = dict(os.environ, ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_INVENTORY_UNPARSED_WARNING='false',
                   ANSIBLE_LOAD_CALLBACK_PLUGINS='1', ANSIBLE_CALLBACK_PLUGINS=CALLBACKS,
                   ANSIBLE_CALLBACKS_ENABLED='result_file', NOVALITE_RESULT_FILE=result_file)
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return _Running(proc, result_file)


class _Running(object):
    def __init__(self, proc, result_file):
        self.proc = proc
        self.result_file = result_file

    def wait_result(self):
        output = self.proc.communicate(timeout=600)[0]
        if not os.path.exists(self.result_file):
            raise AssertionError('ansible produced no result:\n%s' % output.decode('utf-8', 'replace'))
        with open(self.result_file) as handle:
            result = json.load(handle)
        result['_output'] = output.decode('utf-8', 'replace')
        return result


@pytest.fixture
def run_module(tmp_path):
    return ModuleRunner(str(tmp_path))


def wait_for_console(path, marker, count=1, timeout=90):
    """Wait until ``marker`` appears ``count`` times in the console log."""
    deadline = time.monotonic() + timeout
    text = ''
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path, errors='replace') as handle:
                text = handle.read()
            if text.count(marker) >= count:
                return text
        time.sleep(0.2)
    raise AssertionError('%r did not appear %d time(s) in %s within %ss; log:\n%s'
                         % (marker, count, path, timeout, text[-3000:]))


@pytest.fixture
def console():
    return wait_for_console


class CountingHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *_args):
        pass

    def do_GET(self):
        self.server.counts[self.path] = self.server.counts.get(self.path, 0) + 1
        return super().do_GET()


@pytest.fixture
def http_server(tmp_path):
    """Serve tmp_path/www over HTTP on 127.0.0.1; ``.counts`` per path."""
    root = tmp_path / 'www'
    root.mkdir()

    def handler(*args, **kwargs):
        return CountingHandler(*args, directory=str(root), **kwargs)

    server = socketserver.ThreadingTCPServer(('127.0.0.1', 0), handler)
    server.daemon_threads = True
    server.counts = {}
    server.root = root
    server.url = 'http://127.0.0.1:%d' % server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()
