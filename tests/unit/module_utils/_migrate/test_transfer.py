"""The sparse, verified file transfer through a real receiver process
(local here; the integration tests run it over SSH)."""

import hashlib
import os
import stat

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import TransferError
from ansible_collections.novalite.compute.plugins.module_utils._migrate.transfer import (
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
    assert argv[-3:-1] == ['--', '10.0.0.2']
    assert argv[-1].startswith("/usr/bin/python3 -c '") and argv[-1].endswith(" /var/lib/novalite/instances")
    assert target.label == 'nova@10.0.0.2:2222'


# --- the receiver never leaves its root and never trusts a declared mode -------------
def _send_one(dest, src, name, **kwargs):
    with Transfer(local_receiver(str(dest)), 'local') as transfer:
        return transfer.send(src, name, **kwargs)


@pytest.mark.parametrize('link, name', [
    ('u', 'u/disk'),                  # the instance directory is a link
    ('u/inner', 'u/inner/disk'),      # a link deeper down
    ('_base', '_base/img'),           # a link where skip_if_exists looks
])
def test_a_symlinked_directory_under_the_root_is_refused(tmp_path, link, name):
    dest, outside = tmp_path / 'dest', tmp_path / 'outside'
    outside.mkdir()
    (dest / link).parent.mkdir(parents=True, exist_ok=True)
    (dest / link).symlink_to(outside)
    src = sparse_file(tmp_path / 'f', 10, [(0, b'0123456789')])
    with pytest.raises(TransferError, match='refusing symlink %s under %s' % (link, dest)):
        _send_one(dest, src, name, skip_if_exists=name.startswith('_base/'))
    assert list(outside.iterdir()) == []
    assert os.readlink(str(dest / link)) == str(outside)


def test_a_planted_part_link_never_touches_its_target(tmp_path):
    dest, victim = tmp_path / 'dest', tmp_path / 'victim'
    victim.write_bytes(b'precious')
    (dest / 'u').mkdir(parents=True)
    (dest / 'u' / 'disk.part').symlink_to(victim)
    src = sparse_file(tmp_path / 'disk', 3 * MiB, [(MiB, os.urandom(MiB))])
    try:
        _send_one(dest, src, 'u/disk')
    except TransferError:
        assert not os.path.lexists(str(dest / 'u' / 'disk'))
    else:
        assert not os.path.islink(str(dest / 'u' / 'disk')) and content_hash(dest / 'u' / 'disk') == content_hash(src)
    assert victim.read_bytes() == b'precious' and not victim.is_symlink()
    assert not os.path.lexists(str(dest / 'u' / 'disk.part'))


@pytest.mark.parametrize('skip_if_exists', [False, True])
@pytest.mark.parametrize('victim_exists', [True, False])
def test_a_target_that_is_a_symlink_is_refused_and_not_written_through(tmp_path, skip_if_exists, victim_exists):
    dest, victim = tmp_path / 'dest', tmp_path / 'victim'
    if victim_exists:
        victim.write_bytes(b'precious')
    (dest / 'u').mkdir(parents=True)
    (dest / 'u' / 'disk').symlink_to(victim)
    src = sparse_file(tmp_path / 'disk', MiB, [(0, b'new' * 100)])
    with pytest.raises(TransferError, match='refusing symlink u/disk under %s' % dest):
        _send_one(dest, src, 'u/disk', skip_if_exists=skip_if_exists)
    assert os.readlink(str(dest / 'u' / 'disk')) == str(victim)
    if victim_exists:
        assert victim.read_bytes() == b'precious'
    else:
        assert not os.path.lexists(str(victim))
    assert not os.path.lexists(str(dest / 'u' / 'disk.part'))


def test_the_root_itself_may_be_a_symlink(tmp_path):
    real = tmp_path / 'real'
    real.mkdir()
    (tmp_path / 'root').symlink_to(real)
    src = sparse_file(tmp_path / 'f', 10, [(0, b'0123456789')])
    _send_one(tmp_path / 'root', src, 'u/disk')
    assert (real / 'u' / 'disk').read_bytes() == b'0123456789'


@pytest.mark.parametrize('declared, kept', [
    (0o4755, 0o640), (0o6777, 0o660), (0o1644, 0o640), (0o600, 0o600), (0o640, 0o640), (None, 0o640),
], ids=lambda mode: 'default' if mode is None else oct(mode))
def test_a_declared_mode_is_masked_to_owner_and_group_read_write(tmp_path, declared, kept):
    src = sparse_file(tmp_path / 'f', 10, [(0, b'0123456789')])
    kwargs = {} if declared is None else {'mode': declared}
    _send_one(tmp_path / 'dest', src, 'u/disk', **kwargs)
    mode = os.lstat(str(tmp_path / 'dest' / 'u' / 'disk')).st_mode
    assert stat.S_ISREG(mode) and oct(stat.S_IMODE(mode)) == oct(kept)


def test_directories_the_receiver_creates_are_private_or_only_traversable(tmp_path):
    dest = tmp_path / 'dest'
    dest.mkdir()
    os.chmod(str(dest), 0o755)
    src = sparse_file(tmp_path / 'f', 10, [(0, b'0123456789')])
    with Transfer(local_receiver(str(dest)), 'local') as transfer:
        for name in ('u/disk', '_base/img', 'a/b/c', '_records/u.json', '_migrations/m.json'):
            transfer.send(src, name)
    modes = {path: oct(stat.S_IMODE(os.lstat(str(dest / path)).st_mode))
             for path in ('u', '_base', 'a', 'a/b', '_records', '_migrations')}
    assert modes == {'u': '0o711', '_base': '0o711', 'a': '0o711', 'a/b': '0o711',
                     '_records': '0o700', '_migrations': '0o700'}
    assert oct(stat.S_IMODE(os.lstat(str(dest)).st_mode)) == '0o755'     # an existing directory keeps its mode


@pytest.mark.parametrize('name', ['/abs', '../escape', 'u/../../escape', '', 'u//disk', './disk', 'u/.'])
def test_names_that_are_not_plain_relative_paths_are_refused(tmp_path, name):
    src = sparse_file(tmp_path / 'f', 10, [(0, b'0123456789')])
    with pytest.raises(TransferError, match='refusing path'):
        _send_one(tmp_path / 'dest', src, name)


def test_a_stale_partial_file_is_replaced(tmp_path):
    dest = tmp_path / 'dest'
    (dest / 'u').mkdir(parents=True)
    (dest / 'u' / 'disk.part').write_bytes(b'x' * 100)
    src = sparse_file(tmp_path / 'f', 10, [(0, b'0123456789')])
    _send_one(dest, src, 'u/disk')
    assert (dest / 'u' / 'disk').read_bytes() == b'0123456789'
    assert not os.path.lexists(str(dest / 'u' / 'disk.part'))


@pytest.mark.parametrize('host', ['10.0.0.2', '-oProxyCommand=touch /tmp/x'])
def test_ssh_command_ends_its_options_right_before_the_host(host):
    target = SshTarget(host, user='nova', port=22, options=['-o', 'StrictHostKeyChecking=yes'])
    argv = target.command(['true'])
    assert argv[-3:-1] == ['--', host]
    assert argv.index('--') == len(argv) - 3 and argv.count('--') == 1
    assert argv.index('StrictHostKeyChecking=yes') < argv.index('--')


def test_a_base_image_is_received_under_the_image_cache_lock(tmp_path):
    """A fetch of the same image on the destination (or reconcile's cleanup
    of partial files) never meets a base image being received."""
    import threading
    import time
    from ansible_collections.novalite.compute.plugins.module_utils._store.locking import file_lock
    from ansible_collections.novalite.compute.plugins.module_utils._store.paths import InstancePaths
    dest = tmp_path / 'dest'
    paths = InstancePaths(str(dest))
    paths.ensure_layout()
    image = sparse_file(tmp_path / 'img', MiB, [(0, b'x' * 100)])
    held = threading.Event()

    def fetch_in_progress():
        with file_lock(paths.image_lock('img')):
            held.set()
            time.sleep(1.0)

    fetcher = threading.Thread(target=fetch_in_progress)
    fetcher.start()
    held.wait()
    started = time.monotonic()
    with Transfer(local_receiver(str(dest)), 'local') as transfer:
        transfer.send(image, '_base/img', skip_if_exists=True)
    fetcher.join()
    assert time.monotonic() - started >= 0.8
    assert oct(os.stat(paths.locks_dir).st_mode & 0o777) == '0o700'
    assert content_hash(dest / '_base' / 'img') == content_hash(image)
