"""The sparse, verified file transfer through a real receiver process
(local here; the integration tests run it over SSH)."""

import hashlib
import os

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._errors import TransferError
from ansible_collections.novalite.compute.plugins.module_utils._transfer import (
    SshTarget,
    Transfer,
    allocated_bytes,
    data_extents,
    local_receiver,
)

MiB = 1024 * 1024


def sparse_file(path, size, chunks):
    with open(path, 'wb') as handle:
        handle.truncate(size)
        for offset, data in chunks:
            handle.seek(offset)
            handle.write(data)
    return str(path)


def content_hash(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(MiB), b''):
            digest.update(chunk)
    return digest.hexdigest()


def test_only_allocated_ranges_are_sent_and_holes_stay_holes(tmp_path):
    src = sparse_file(tmp_path / 'disk', 256 * MiB, [(0, b'a' * MiB), (128 * MiB, os.urandom(3 * MiB))])
    assert allocated_bytes(src) == 4 * MiB
    dest = tmp_path / 'dest'
    with Transfer(local_receiver(str(dest)), 'local') as transfer:
        result = transfer.send(src, 'uuid-1/disk', mode=0o640)
    assert result['bytes'] == 4 * MiB and not result['skipped']
    copy = dest / 'uuid-1' / 'disk'
    assert content_hash(copy) == content_hash(src)
    assert os.path.getsize(copy) == 256 * MiB
    assert os.stat(copy).st_blocks * 512 < 16 * MiB          # still sparse
    assert oct(os.stat(copy).st_mode & 0o777) == '0o640'
    assert not (dest / 'uuid-1' / 'disk.part').exists()


def test_skip_if_exists_and_small_and_empty_files(tmp_path):
    dest = tmp_path / 'dest'
    (dest / '_base').mkdir(parents=True)
    (dest / '_base' / 'img').write_bytes(b'already here')
    base = sparse_file(tmp_path / 'img', MiB, [(0, b'x' * 100)])
    empty = sparse_file(tmp_path / 'empty', 0, [])
    info = tmp_path / 'disk.info'
    info.write_text('{"a": "qcow2"}')
    with Transfer(local_receiver(str(dest)), 'local') as transfer:
        assert transfer.send(base, '_base/img', skip_if_exists=True)['skipped'] is True
        assert transfer.send(empty, 'u/empty')['bytes'] == 0
        assert transfer.send(str(info), 'u/disk.info')['bytes'] == len('{"a": "qcow2"}')
        record = transfer.send(str(info), '_records/u.json', mode=0o600)
    assert (dest / '_base' / 'img').read_bytes() == b'already here'
    assert (dest / 'u' / 'disk.info').read_text() == '{"a": "qcow2"}'
    assert oct(os.stat(dest / '_records').st_mode & 0o777) == '0o700'
    assert record['sha256']


def test_paths_outside_the_root_are_refused(tmp_path):
    src = sparse_file(tmp_path / 'f', 10, [(0, b'0123456789')])
    with pytest.raises(TransferError, match='refusing path'):
        with Transfer(local_receiver(str(tmp_path / 'dest')), 'local') as transfer:
            transfer.send(src, '../escape')
    assert not (tmp_path / 'escape').exists()


def test_a_broken_receiver_is_reported_and_leaves_no_partial_file(tmp_path):
    src = sparse_file(tmp_path / 'disk', 64 * MiB, [(0, os.urandom(32 * MiB))])
    argv = ['sh', '-c', 'head -c 10 >/dev/null; exit 3']
    with pytest.raises(TransferError, match='broke'):
        with Transfer(argv, 'nowhere') as transfer:
            transfer.send(src, 'u/disk')


def test_extents_of_a_dense_file(tmp_path):
    src = sparse_file(tmp_path / 'dense', 3 * MiB, [(0, b'z' * 3 * MiB)])
    with open(src, 'rb') as handle:
        assert data_extents(handle.fileno(), 3 * MiB) == [(0, 3 * MiB)]


def test_ssh_command_quotes_the_remote_program():
    target = SshTarget('10.0.0.2', user='nova', port=2222, identity_file='/k', python='/usr/bin/python3')
    argv = target.receiver('/var/lib/novalite/instances')
    assert argv[:1] == ['ssh'] and '-p' in argv and '2222' in argv and '-l' in argv and 'nova' in argv
    assert argv[-2] == '10.0.0.2'
    assert argv[-1].startswith("/usr/bin/python3 -c '") and argv[-1].endswith(" /var/lib/novalite/instances")
    assert target.label == 'nova@10.0.0.2:2222'
