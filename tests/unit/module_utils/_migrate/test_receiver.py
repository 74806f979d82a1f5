"""The transfer receiver driven in-process (its frames fed from memory into
a tmp dir), and how it is shipped: its own source text, read through the
module's loader from a directory or from a zip as AnsiballZ runs it.
test_transfer.py runs the same program as a subprocess behind the sender."""

import ast
import hashlib
import io
import json
import os
import stat
import struct
import subprocess
import sys
import zipfile

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._migrate import receiver
from ansible_collections.novalite.compute.plugins.module_utils._migrate.transfer import SshTarget, Transfer, receiver_source
from ansible_collections.novalite.compute.tests.unit import fakes

COLLECTION = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))


def header(name, size, **extra):
    body = json.dumps(dict({'name': name, 'size': size}, **extra)).encode('utf-8')
    return b'F' + struct.pack('>I', len(body)) + body


def data(offset, chunk):
    return b'D' + struct.pack('>QI', offset, len(chunk)) + chunk


def digest(*ranges):
    stream = hashlib.sha256()
    for offset, chunk in ranges:
        stream.update(struct.pack('>QQ', offset, len(chunk)))
        stream.update(chunk)
    return stream.hexdigest()


def trailer(sha256):
    body = json.dumps({'sha256': sha256}).encode('utf-8')
    return b'E' + struct.pack('>I', len(body)) + body


def one_file(name, size, ranges, sha256=None, **extra):
    frames = header(name, size, **extra) + b''.join(data(o, c) for o, c in ranges)
    return frames + trailer(digest(*ranges) if sha256 is None else sha256)


def serve(root, stream):
    """(exit code, answer lines) of one Receiver fed ``stream``."""
    out = io.StringIO()
    rc = receiver.Receiver(str(root), io.BytesIO(stream), out).serve()
    return rc, out.getvalue().splitlines()


def test_a_sparse_file_is_written_verified_and_renamed_into_place(tmp_path):
    ranges = [(0, b'head'), (1 << 20, b'tail')]
    rc, answers = serve(tmp_path / 'dest', one_file('u/disk', 2 << 20, ranges, mode=0o4755) + b'Q')
    assert (rc, answers) == (0, ['SEND', 'OK %s 8' % digest(*ranges)])
    disk = tmp_path / 'dest' / 'u' / 'disk'
    content = disk.read_bytes()
    assert len(content) == 2 << 20 and content[:4] == b'head' and content[1 << 20:(1 << 20) + 4] == b'tail'
    assert stat.S_IMODE(os.stat(str(disk)).st_mode) == 0o640            # masked with 0o660
    assert not (tmp_path / 'dest' / 'u' / 'disk.part').exists()
    assert stat.S_IMODE(os.stat(str(tmp_path / 'dest')).st_mode) == 0o711   # the root, created


def test_a_checksum_mismatch_leaves_nothing_and_the_stream_goes_on(tmp_path):
    ranges = [(0, b'0123456789')]
    stream = one_file('u/disk', 10, ranges, sha256='0' * 64) + one_file('u/other', 10, ranges) + b'Q'
    rc, answers = serve(tmp_path, stream)
    assert rc == 0
    assert answers[:2] == ['SEND', 'ERR checksum mismatch for u/disk: sent %s, received %s' % ('0' * 64, digest(*ranges))]
    assert answers[2:] == ['SEND', 'OK %s 10' % digest(*ranges)]
    assert sorted(os.listdir(str(tmp_path / 'u'))) == ['other']


def test_skip_if_exists_answers_skip_and_keeps_the_file(tmp_path):
    (tmp_path / '_base').mkdir()
    (tmp_path / '_base' / 'img').write_bytes(b'already here')
    rc, answers = serve(tmp_path, header('_base/img', 5, skip_if_exists=True) + b'Q')
    assert (rc, answers) == (0, ['SKIP'])
    assert (tmp_path / '_base' / 'img').read_bytes() == b'already here'
    assert (tmp_path / '_locks' / 'image-img.lock').exists()            # decided under the image cache lock


def test_records_go_to_a_private_directory(tmp_path):
    ranges = [(0, b'{}')]
    rc, _answers = serve(tmp_path, one_file('_records/u.json', 2, ranges, mode=0o600, fsync=True) + b'Q')
    assert rc == 0 and (tmp_path / '_records' / 'u.json').read_bytes() == b'{}'
    assert stat.S_IMODE(os.stat(str(tmp_path / '_records')).st_mode) == 0o700


@pytest.mark.parametrize('stream, answer', [
    (header('../escape', 1), "ERR refusing path '../escape'"),
    (header('u/disk', 10) + data(0, b'01234'), 'ERR stream ended'),
    (header('u/disk', 10) + b'X', "ERR unexpected frame b'X'"),
    (b'Z', "ERR unexpected frame b'Z'"),
    (b'', 'ERR stream ended'),
], ids=['outside the root', 'cut short', 'bad data frame', 'bad file frame', 'empty'])
def test_a_refused_or_broken_stream_answers_err_and_leaves_no_partial_file(tmp_path, stream, answer):
    rc, answers = serve(tmp_path / 'dest', stream)
    assert rc == 1 and answers[-1] == answer
    assert not (tmp_path / 'escape').exists()
    assert not os.path.lexists(str(tmp_path / 'dest' / 'u' / 'disk.part'))
    assert not os.path.lexists(str(tmp_path / 'dest' / 'u' / 'disk'))


def test_a_symlink_below_the_root_is_refused(tmp_path):
    outside = tmp_path / 'outside'
    outside.mkdir()
    (tmp_path / 'dest').mkdir()
    (tmp_path / 'dest' / 'u').symlink_to(outside)
    rc, answers = serve(tmp_path / 'dest', one_file('u/disk', 1, [(0, b'x')]))
    assert rc == 1 and answers == ['ERR refusing symlink u under %s' % (tmp_path / 'dest')]
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize('name, parts', [
    ('u/disk', ['u', 'disk']), ('_base/img.json', ['_base', 'img.json']),
    ('/abs', None), ('u//disk', None), ('./disk', None), ('u/..', None), ('', None), (7, None),
])
def test_components_of_a_name(name, parts):
    if parts is None:
        with pytest.raises(receiver.Refused, match='refusing path'):
            receiver.components(name)
    else:
        assert receiver.components(name) == parts


def test_main_serves_stdin_into_the_root_named_on_the_command_line(tmp_path, monkeypatch):
    ranges = [(0, b'abc')]
    monkeypatch.setattr(sys, 'stdin', io.TextIOWrapper(io.BytesIO(one_file('u/f', 3, ranges) + b'Q')))
    out = io.StringIO()
    monkeypatch.setattr(sys, 'stdout', out)
    assert receiver.main(['-c', str(tmp_path)]) == 0
    assert out.getvalue() == 'SEND\nOK %s 3\n' % digest(*ranges)
    assert (tmp_path / 'u' / 'f').read_bytes() == b'abc'


# --- shipped as its own source -------------------------------------------------------
def test_the_shipped_program_is_receiver_py_itself_and_imports_only_the_stdlib():
    with open(receiver.__file__) as handle:
        assert receiver_source() == handle.read()
    assert fakes.imported_modules(receiver_source()) == {'fcntl', 'hashlib', 'json', 'os', 'stat', 'struct', 'sys'}


def test_the_shipped_program_parses_as_python_3_6():
    """It runs under the destination's python3 (dest_ssh.python), which is
    3.6 on RHEL 8: no ``from __future__ import annotations`` (a SyntaxError
    there), no syntax newer than 3.6."""
    tree = ast.parse(receiver_source(), feature_version=(3, 6))
    assert not [node for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module == '__future__']


def zipped_collection(path):
    """The collection's module_utils in a zip laid out as AnsiballZ lays it out
    (every package with an __init__.py)."""
    with zipfile.ZipFile(str(path), 'w') as archive:
        for package in ('ansible_collections', 'ansible_collections/novalite', 'ansible_collections/novalite/compute',
                        'ansible_collections/novalite/compute/plugins'):
            archive.writestr(package + '/__init__.py', '')
        utils = os.path.join(COLLECTION, 'plugins', 'module_utils')
        for directory, dirs, files in os.walk(utils):
            dirs[:] = [d for d in dirs if d != '__pycache__']
            for name in files:
                if name.endswith('.py'):
                    full = os.path.join(directory, name)
                    inner = os.path.relpath(full, COLLECTION)
                    archive.write(full, 'ansible_collections/novalite/compute/' + inner)
            if '__init__.py' not in files:
                inner = os.path.relpath(os.path.join(directory, '__init__.py'), COLLECTION)
                archive.writestr('ansible_collections/novalite/compute/' + inner, '')
    return str(path)


PROBE = r'''
import json, os, sys, zipimport
sys.path.insert(0, sys.argv[1])
from ansible_collections.novalite.compute.plugins.module_utils._migrate import receiver, transfer
src = os.path.join(sys.argv[2], 'disk')
with open(src, 'wb') as handle:
    handle.truncate(1 << 20)
    handle.write(b'payload')
with transfer.Transfer(transfer.local_receiver(os.path.join(sys.argv[2], 'dest')), 'local') as sending:
    sent = sending.send(src, 'u/disk')
print(json.dumps({'loader': type(receiver.__loader__).__name__, 'zipimport': isinstance(receiver.__loader__, zipimport.zipimporter),
                  'file': receiver.__file__, 'source': transfer.receiver_source(), 'bytes': sent['bytes']}))
'''


def test_the_source_is_read_from_a_zip_as_from_a_directory(tmp_path):
    """On a hypervisor the module_utils are members of the AnsiballZ zip,
    imported by zipimport: the receiver's text comes from there."""
    archive = zipped_collection(tmp_path / 'modlib.zip')
    proc = subprocess.run([sys.executable, '-I', '-c', PROBE, archive, str(tmp_path)], capture_output=True, text=True,
                          check=False, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout)
    assert seen['zipimport'] is True, seen['loader']
    assert seen['file'].startswith(archive + os.sep)
    assert seen['source'] == receiver_source()
    assert 0 < seen['bytes'] < 1 << 20                                  # the allocated block, not the hole
    with open(str(tmp_path / 'dest' / 'u' / 'disk'), 'rb') as handle:
        assert handle.read(7) == b'payload'


def test_the_program_survives_the_remote_shell_that_ssh_hands_it_to(tmp_path, monkeypatch):
    """sshd runs the command line through the login shell: the quoted source
    of receiver.py must come out of it as it went in."""
    fakes.fake_ssh_on_path(tmp_path, monkeypatch)
    src = tmp_path / 'disk'
    src.write_bytes(b"it's \"quoted\" $HOME `x`")
    with Transfer(SshTarget('dest.example', user='nova', python=sys.executable).receiver(str(tmp_path / 'dest')),
                  'dest.example') as transfer:
        transfer.send(str(src), 'u/disk')
    assert (tmp_path / 'dest' / 'u' / 'disk').read_bytes() == src.read_bytes()
