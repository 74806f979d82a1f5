"""Hostile inputs on the real libvirtd (issue 11): domains this collection does
not manage, a poisoned or mismatching image cache, images whose backing file
would make qemu-img hang or connect somewhere, file modes, and downloads that
never end."""

import hashlib
import http.server
import json
import os
import shutil
import socket
import socketserver
import subprocess
import threading
import time
import uuid as uuidlib

import pytest

from conftest import sha256_of

FLAVOR = {'vcpus': 1, 'memory_mb': 96, 'root_gb': 1}


def _spawn(run_module, path, name, image, virt_type, state='stopped', **extra):
    args = {'name': name, 'state': state, 'instances_path': path, 'virt_type': virt_type,
            'image': image, 'flavor': FLAVOR}
    args.update(extra)
    return run_module('libvirt_instance', args)


def _foreign_domain(conn, name, virt_type, domain_uuid=None, metadata=''):
    """A running domain that novalite did not create (no disk: SeaBIOS just
    waits), optionally with some metadata of ours."""
    xml = """<domain type='%s'>
  <name>%s</name><uuid>%s</uuid><memory unit='MiB'>32</memory><vcpu>1</vcpu>
  %s
  <os><type arch='x86_64'>hvm</type></os>
  <devices><graphics type='vnc' autoport='yes' listen='127.0.0.1'/></devices>
</domain>""" % (virt_type, name, domain_uuid or str(uuidlib.uuid4()), metadata)
    dom = conn.defineXML(xml)
    dom.create()
    return dom


def _alive(conn, dom_uuid):
    dom = conn.lookupByUUIDString(dom_uuid)
    return dom.isActive() == 1


# --- 1. domains that are not ours -------------------------------------------------------
@pytest.mark.parametrize('state', ['absent', 'stopped', 'running'])
def test_foreign_domain_by_uuid_is_never_touched(state, run_module, conn, prefix, instances_path, image_url,
                                                 virt_type):
    foreign = _foreign_domain(conn, prefix + '-foreign', virt_type)
    args = {'name': prefix + '-mine', 'uuid': foreign.UUIDString(), 'state': state,
            'instances_path': instances_path, 'virt_type': virt_type}
    if state != 'absent':
        args.update(image={'url': image_url}, flavor=FLAVOR)
    for check in (True, False):
        result = run_module('libvirt_instance', args, check=check)
        assert result.get('failed') and result['error'] == 'DomainNotManaged', result
        assert 'not managed by novalite.compute' in result['msg'] and result['step'] == 'look up domain'
        assert _alive(conn, foreign.UUIDString())
    assert not os.path.exists(os.path.join(instances_path, foreign.UUIDString()))


def test_domain_managed_for_another_host_is_never_touched(run_module, conn, prefix, instances_path, image_url,
                                                          virt_type):
    meta = ("<metadata><nl:instance xmlns:nl='https://novalite.dev/xmlns/compute/1.0'>"
            "<nl:name>%s-other</nl:name><nl:host>hv-somewhere-else</nl:host></nl:instance></metadata>" % prefix)
    other = _foreign_domain(conn, prefix + '-other', virt_type, metadata=meta)
    result = run_module('libvirt_instance', {'name': prefix + '-other', 'uuid': other.UUIDString(), 'state': 'absent',
                                             'instances_path': instances_path})
    assert result.get('failed') and result['error'] == 'DomainNotManaged', result
    assert 'for host hv-somewhere-else' in result['msg']
    assert _alive(conn, other.UUIDString())


def test_record_whose_domain_was_replaced_by_a_foreign_one(run_module, conn, prefix, instances_path, image_url,
                                                           virt_type):
    """Our record, but the domain with its uuid is someone else's: delete,
    reboot and reconcile (which would sync it off) leave it alone."""
    name = prefix + '-swap'
    spawned = _spawn(run_module, instances_path, name, {'url': image_url}, virt_type)
    assert not spawned.get('failed'), spawned.get('msg')
    uuid = spawned['instance']['uuid']
    conn.lookupByUUIDString(uuid).undefine()
    _foreign_domain(conn, name + '-foreign', virt_type, domain_uuid=uuid)
    for module, args in (('libvirt_instance', {'name': name, 'state': 'absent'}),
                         ('instance_reboot', {'name': name, 'type': 'hard'})):
        args['instances_path'] = instances_path
        result = run_module(module, args)
        assert result.get('failed') and result['error'] == 'DomainNotManaged', (module, result)
        assert _alive(conn, uuid)
    result = run_module('state_reconcile', {'instances_path': instances_path})
    assert not result.get('failed'), result.get('msg')
    entry = [e for e in result['plan'] if e['uuid'] == uuid][0]
    assert [a['action'] for a in entry['actions']] == ['note']
    assert 'not managed by novalite.compute' in entry['actions'][0]['reason']
    assert _alive(conn, uuid)
    assert os.path.exists(os.path.join(instances_path, uuid, 'disk'))


# --- 2. the cache serves only what was asked for -------------------------------------------------
def _digest(path, algorithm):
    hasher = hashlib.new(algorithm)
    with open(path, 'rb') as handle:
        hasher.update(handle.read())
    return hasher.hexdigest()


def test_cache_hits_are_checked_against_the_requested_checksum(run_module, conn, prefix, instances_path,
                                                               http_server, image_path, virt_type):
    shutil.copy(image_path, str(http_server.root / 'one.qcow2'))
    shutil.copy(os.environ['NOVALITE_TEST_IMAGE_NOACPI'], str(http_server.root / 'two.qcow2'))
    one, two = http_server.url + '/one.qcow2', http_server.url + '/two.qcow2'
    first = _spawn(run_module, instances_path, prefix + '-a', {'url': one}, virt_type)
    assert not first.get('failed'), first.get('msg')
    for n, checksum in enumerate(('sha256:' + '1' * 64, 'sha512:' + '2' * 128)):
        result = _spawn(run_module, instances_path, '%s-w%d' % (prefix, n), {'url': one, 'checksum': checksum},
                        virt_type)
        assert result.get('failed') and 'checksum mismatch for cached' in result['msg'], result
        assert result['step'] == 'fetch image'
    good = 'sha512:' + _digest(image_path, 'sha512')
    result = _spawn(run_module, instances_path, prefix + '-ok', {'url': one, 'checksum': good}, virt_type)
    assert not result.get('failed'), result.get('msg')
    assert http_server.counts['/one.qcow2'] == 1              # every use was a hit

    # one image id, two URLs: the entry holds one.qcow2, two.qcow2 is different
    shared = {'id': prefix + '-image'}
    result = _spawn(run_module, instances_path, prefix + '-i1', dict(shared, url=one), virt_type)
    assert not result.get('failed'), result.get('msg')
    right_for_two = 'sha256:' + sha256_of(str(http_server.root / 'two.qcow2'))
    for n, image in enumerate((dict(shared, url=two), dict(shared, url=two, checksum=right_for_two))):
        result = _spawn(run_module, instances_path, '%s-i%d' % (prefix, n + 2), image, virt_type)
        assert result.get('failed'), result
        assert 'was fetched from %s' % one in result['msg'] or 'checksum mismatch for cached' in result['msg']
    assert '/two.qcow2' not in http_server.counts
    names = sorted(d.name() for d in conn.listAllDomains(0) if d.name().startswith(prefix))
    assert names == sorted([prefix + '-a', prefix + '-ok', prefix + '-i1'])


def test_changed_cached_bytes_are_refused_and_kept(run_module, prefix, instances_path, image_path, virt_type):
    url = 'file://' + image_path
    checksum = 'sha256:' + sha256_of(image_path)
    result = _spawn(run_module, instances_path, prefix + '-a', {'url': url, 'checksum': checksum}, virt_type)
    assert not result.get('failed'), result.get('msg')
    base_dir = os.path.join(instances_path, '_base')
    base = [os.path.join(base_dir, f) for f in os.listdir(base_dir) if not f.startswith('.') and '.' not in f][0]
    with open(base, 'r+b') as handle:          # poison one byte past the header
        handle.seek(70000)
        byte = handle.read(1)
        handle.seek(70000)
        handle.write(bytes([byte[0] ^ 0xff]))
    poisoned = sha256_of(base)
    result = _spawn(run_module, instances_path, prefix + '-b', {'url': url, 'checksum': checksum}, virt_type)
    assert result.get('failed') and 'changed since it was fetched' in result['msg'], result
    assert sha256_of(base) == poisoned                        # left for the operator


# --- 4. qemu-img never follows what the image points at -------------------------------------------------
class _Listener(object):
    """A TCP listener on 127.0.0.1 counting connections (a stand-in NBD server)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(('127.0.0.1', 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                peer, _addr = self.sock.accept()
            except socket.timeout:
                continue
            self.accepted += 1
            peer.close()

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


@pytest.mark.parametrize('backing', ['fifo', 'nbd'])
def test_backing_file_is_refused_before_qemu_img_opens_it(backing, run_module, prefix, instances_path, tmp_path,
                                                          virt_type):
    listener = _Listener()
    try:
        if backing == 'fifo':
            target = str(tmp_path / 'pipe')
            os.mkfifo(target)
        else:
            target = 'nbd://127.0.0.1:%d/export' % listener.port
        image = str(tmp_path / 'evil.qcow2')
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-u', '-b', target, '-F', 'raw', image, '64M'],
                       check=True)
        started = time.monotonic()
        running = run_module.start('libvirt_instance', {
            'name': prefix + '-evil', 'instances_path': instances_path, 'virt_type': virt_type,
            'image': {'url': 'file://' + image}, 'flavor': FLAVOR})
        result = running.wait_result()
        assert time.monotonic() - started < 120
        assert result.get('failed'), result
        assert 'backing file' in result['msg'] and target in result['msg'], result['msg']
        assert 'corrupt' not in result['msg']
        assert listener.accepted == 0
        leftovers = [f for f in os.listdir(os.path.join(instances_path, '_base')) if not f.startswith('.')]
        assert leftovers == []
    finally:
        listener.close()


# --- 5. nothing readable by other local users, nothing chowned outside ------------------------
def test_cache_and_instance_files_are_not_world_readable(run_module, console, prefix, instances_path, image_path,
                                                         tmp_path, virt_type):
    private = tmp_path / 'private'
    private.mkdir(mode=0o700)
    source = str(private / 'root-only.qcow2')
    shutil.copy(image_path, source)
    os.chmod(source, 0o600)
    before = os.stat(source)
    result = _spawn(run_module, instances_path, prefix + '-p', {'url': 'file://' + source}, virt_type,
                    state='running')
    assert not result.get('failed'), result.get('msg')
    uuid = result['instance']['uuid']
    console(os.path.join(instances_path, uuid, 'console.log'), 'GUEST-READY')   # QEMU could use every file
    for directory in (os.path.join(instances_path, '_base'), os.path.join(instances_path, uuid)):
        assert os.stat(directory).st_mode & 0o006 == 0, directory
        for entry in os.listdir(directory):
            path = os.path.join(directory, entry)
            if os.path.isfile(path) and entry != 'console.log':
                assert os.stat(path).st_mode & 0o007 == 0, (path, oct(os.stat(path).st_mode))
    assert os.stat(instances_path).st_mode & 0o004 == 0
    deleted = run_module('libvirt_instance', {'name': prefix + '-p', 'state': 'absent',
                                              'instances_path': instances_path})
    assert not deleted.get('failed'), deleted.get('msg')
    after = os.stat(source)
    assert (after.st_uid, after.st_gid, after.st_mode) == (before.st_uid, before.st_gid, before.st_mode)


# --- 6. downloads that never end -------------------------------------------------------------------------
class _HostileHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *_args):
        pass

    def do_GET(self):
        self.send_response(200)
        if self.path == '/huge-declared':
            self.send_header('Content-Length', str(64 * 1024 ** 3))
        self.end_headers()
        try:
            if self.path == '/endless':
                chunk = b'\0' * (1 << 20)
                while True:
                    self.wfile.write(chunk)
            elif self.path == '/trickle':
                while True:
                    self.wfile.write(b'Q')
                    self.wfile.flush()
                    time.sleep(0.5)
        except (BrokenPipeError, ConnectionResetError):
            pass


@pytest.fixture
def hostile_server():
    server = socketserver.ThreadingTCPServer(('127.0.0.1', 0), _HostileHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield 'http://127.0.0.1:%d' % server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize('path, extra, message', [
    ('/endless', {'max_image_size': '32M'}, 'larger than max_image_size (33554432 bytes)'),
    ('/huge-declared', {}, 'larger than the size cap derived from the flavor root disk'),
    ('/trickle', {'fetch_deadline': 3, 'fetch_timeout': 5}, 'fetch_deadline of 3s reached'),
])
def test_downloads_stop_at_the_size_cap_and_the_deadline(path, extra, message, run_module, prefix, instances_path,
                                                         hostile_server, virt_type):
    started = time.monotonic()
    result = _spawn(run_module, instances_path, prefix + '-dl', {'url': hostile_server + path}, virt_type, **extra)
    assert result.get('failed'), result
    assert message in result['msg'], result['msg']
    assert result['step'] == 'fetch image'
    assert time.monotonic() - started < 90
    base = os.path.join(instances_path, '_base')
    assert [f for f in os.listdir(base) if not f.startswith('.')] == []
    records = os.path.join(instances_path, '_records')
    for entry in [f for f in os.listdir(records) if f.endswith('.json')]:
        with open(os.path.join(records, entry)) as handle:
            record = json.load(handle)
        assert record['vm_state'] == 'error' and message in record['fault']['message']
        assert not os.path.exists(os.path.join(instances_path, record['uuid']))
