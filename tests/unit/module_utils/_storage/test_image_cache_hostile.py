"""The image cache against hostile sources and a poisoned cache, with real
qemu-img (issue 11: findings 2, 3, 4, 5, 6)."""

import hashlib
import json
import os
import subprocess
import time

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.commands import run
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import CommandError, ImageFetchError, ImageUnacceptable
from ansible_collections.novalite.compute.plugins.module_utils._storage import image_cache as _image_cache
from ansible_collections.novalite.compute.plugins.module_utils._storage import image_fetch as _image_fetch
from ansible_collections.novalite.compute.plugins.module_utils._storage import image_provenance as _image_provenance
from ansible_collections.novalite.compute.plugins.module_utils._storage import qemu_img as _qemu_img
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_cache import ImageCache
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_fetch import download_cap
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import InstancePaths

MiB = 1024 * 1024


def qcow2(path, size='8M', backing=None):
    argv = ['qemu-img', 'create', '-q', '-f', 'qcow2']
    if backing:
        argv += ['-u', '-b', backing, '-F', 'raw']
    subprocess.run(argv + [str(path), size], check=True)
    return str(path)


def digest(path, algorithm='sha256'):
    with open(path, 'rb') as handle:
        return hashlib.new(algorithm, handle.read()).hexdigest()


def base_info(path):
    out = subprocess.run(['qemu-img', 'info', '--output=json', '-U', path], check=True, capture_output=True)
    return json.loads(out.stdout)


# --- 3. what is inspected is what is copied ------------------------------------------------
@pytest.mark.parametrize('force_raw', [False, True])
def test_a_local_image_swapped_during_inspection_does_not_reach_the_cache(force_raw, tmp_path, monkeypatch):
    good = qcow2(tmp_path / 'good.qcow2')
    evil = qcow2(tmp_path / 'evil.qcow2', backing='/etc/hostname')
    source = str(tmp_path / 'image.qcow2')
    os.link(good, source)
    real_info = _qemu_img.info
    swapped = []

    def info_then_swap(path, fmt):
        result = real_info(path, fmt)
        if not swapped:             # the attacker replaces the file while it is inspected
            os.rename(evil, source)
            swapped.append(path)
        return result

    monkeypatch.setattr(_qemu_img, 'info', info_then_swap)
    paths = InstancePaths(str(tmp_path / 'inst'))
    base = ImageCache(paths, force_raw=force_raw).get({'url': 'file://' + source})
    assert swapped and swapped[0] != source                # inspected in _base, not at the source
    info = base_info(base.path)
    assert 'backing-filename' not in info
    assert info['format'] == ('raw' if force_raw else 'qcow2')
    if not force_raw:
        assert digest(base.path) == digest(good)


# --- 4. the header is judged before qemu-img runs; qemu-img has a wall clock --------------------------
def test_backing_file_refused_before_any_qemu_img_call(tmp_path, monkeypatch):
    fifo = str(tmp_path / 'fifo')
    os.mkfifo(fifo)
    evil = qcow2(tmp_path / 'evil.qcow2', backing=fifo)
    calls = []
    monkeypatch.setattr(_qemu_img, 'run', lambda *a, **k: calls.append(a))
    paths = InstancePaths(str(tmp_path / 'inst'))
    with pytest.raises(ImageUnacceptable, match='backing file %s' % fifo):
        ImageCache(paths).get({'url': 'file://' + evil})
    assert calls == []
    assert [f for f in os.listdir(paths.base_dir) if not f.startswith('.')] == []


def test_commands_have_a_wall_clock():
    started = time.monotonic()
    with pytest.raises(CommandError, match='did not finish within 0.5s'):
        run(['sleep', '30'], 'sleeping', timeout=0.5)
    assert time.monotonic() - started < 10


def test_qemu_img_never_opens_a_backing_file(tmp_path):
    fifo = str(tmp_path / 'fifo')
    os.mkfifo(fifo)
    evil = qcow2(tmp_path / 'evil.qcow2', backing=fifo)
    started = time.monotonic()
    assert _qemu_img.check(evil, 'qcow2')['check-errors'] == 0       # would block on the FIFO if opened
    assert _qemu_img.info(evil, 'qcow2')['format'] == 'qcow2'
    assert time.monotonic() - started < 30


# --- 2. hits are checked ---------------------------------------------------------------------------------
@pytest.fixture
def cache(tmp_path):
    return ImageCache(InstancePaths(str(tmp_path / 'inst')))


@pytest.fixture
def image(tmp_path):
    path = qcow2(tmp_path / 'one.qcow2')
    subprocess.run(['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5a 0 1M', path], check=True,
                   stdout=subprocess.DEVNULL)
    return path


def test_hit_with_a_wrong_checksum_of_any_algorithm_is_refused(cache, image):
    url = 'file://' + image
    cache.get({'url': url})
    for checksum in ('sha256:' + '0' * 64, 'sha512:' + '0' * 128, 'md5:' + '0' * 32):
        with pytest.raises(ImageUnacceptable, match='checksum mismatch for cached'):
            cache.get({'url': url, 'checksum': checksum})
    hit = cache.get({'url': url, 'checksum': 'sha512:' + digest(image, 'sha512')})
    assert not hit.fetched
    with open(cache.sidecar(hit.name)) as handle:
        assert json.load(handle)['checksums']['sha512'] == digest(image, 'sha512')   # stored for next time


def test_one_image_id_never_serves_another_urls_bytes(cache, image, tmp_path):
    other = qcow2(tmp_path / 'two.qcow2', size='16M')
    cache.get({'url': 'file://' + image, 'id': 'img-1'})
    with pytest.raises(ImageUnacceptable, match='was fetched from file://%s, not from file://%s' % (image, other)):
        cache.get({'url': 'file://' + other, 'id': 'img-1'})
    with pytest.raises(ImageUnacceptable, match='checksum mismatch for cached'):
        cache.get({'url': 'file://' + other, 'id': 'img-1', 'checksum': 'sha256:' + digest(other)})
    # the same bytes under another URL are fine when the checksum proves it
    mirror = str(tmp_path / 'mirror.qcow2')
    os.link(image, mirror)
    assert not cache.get({'url': 'file://' + mirror, 'id': 'img-1', 'checksum': 'sha256:' + digest(image)}).fetched


def test_changed_bytes_are_refused_and_left_in_place(cache, image):
    url = 'file://' + image
    base = cache.get({'url': url, 'checksum': 'sha256:' + digest(image)})
    with open(base.path, 'r+b') as handle:
        handle.seek(300000)
        handle.write(b'poison')
    poisoned = digest(base.path)
    with pytest.raises(ImageUnacceptable, match='changed since it was fetched'):
        cache.get({'url': url, 'checksum': 'sha256:' + digest(image)})
    assert os.path.exists(base.path) and digest(base.path) == poisoned


def test_converted_entry_knows_only_the_source_digests_it_took(tmp_path, image):
    cache = ImageCache(InstancePaths(str(tmp_path / 'inst')), force_raw=True)
    url = 'file://' + image
    base = cache.get({'url': url})
    assert base.format == 'raw'
    assert not cache.get({'url': url, 'checksum': 'sha256:' + digest(image)}).fetched
    with pytest.raises(ImageUnacceptable, match='checksum mismatch for cached'):
        cache.get({'url': url, 'checksum': 'sha256:' + '0' * 64})
    with pytest.raises(ImageUnacceptable, match='converted to raw when fetched; only its sha256'):
        cache.get({'url': url, 'checksum': 'sha512:' + digest(image, 'sha512')})
    with open(base.path, 'r+b') as handle:
        handle.write(b'poison')
    with pytest.raises(ImageUnacceptable, match='changed since it was fetched and converted'):
        cache.get({'url': url, 'checksum': 'sha256:' + digest(image)})


def test_an_unreadable_sidecar_is_refused(cache, image):
    base = cache.get({'url': 'file://' + image})
    with open(cache.sidecar(base.name), 'w') as handle:
        handle.write('{not json')
    with pytest.raises(ImageUnacceptable, match='no readable record of where it came from'):
        cache.get({'url': 'file://' + image})
    assert os.path.exists(base.path)


def test_an_earlier_versions_entry_without_sidecar_is_adopted_and_then_checked(cache, image):
    """An earlier version renamed the image before writing its sidecar."""
    base = cache.get({'url': 'file://' + image})
    os.unlink(cache.sidecar(base.name))
    assert not cache.get({'url': 'file://' + image}).fetched
    with pytest.raises(ImageUnacceptable, match='checksum mismatch for cached'):
        cache.get({'url': 'file://' + image, 'checksum': 'sha256:' + '0' * 64})
    assert not cache.get({'url': 'file://' + image, 'checksum': 'sha256:' + digest(image)}).fetched


def test_an_earlier_versions_converted_entry_keeps_its_source_digest(tmp_path, image):
    """Sidecars without a fingerprint: the format, the conversion (raw, not
    the size downloaded) and the content digest are filled in on first use."""
    cache = ImageCache(InstancePaths(str(tmp_path / 'inst')), force_raw=True)
    url = 'file://' + image
    base = cache.get({'url': url, 'checksum': 'sha256:' + digest(image)})
    with open(cache.sidecar(base.name)) as handle:
        meta = json.load(handle)
    legacy = dict((key, meta[key]) for key in ('url', 'id', 'format', 'virtual_size', 'size', 'checksums'))
    with open(cache.sidecar(base.name), 'w') as handle:
        json.dump(legacy, handle)
    assert not cache.get({'url': url, 'checksum': 'sha256:' + digest(image)}).fetched
    with open(cache.sidecar(base.name)) as handle:
        meta = json.load(handle)
    assert meta['converted'] and meta['content_digest'].startswith('sparse-sha256:') and meta['fingerprint']


# --- 5. modes ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize('force_raw', [False, True])
def test_cached_files_are_not_world_readable(force_raw, tmp_path, image):
    os.chmod(image, 0o600)
    paths = InstancePaths(str(tmp_path / 'inst'))
    base = ImageCache(paths, force_raw=force_raw).get({'url': 'file://' + image})
    for path in (base.path, base.path + '.json'):
        assert os.stat(path).st_mode & 0o777 == 0o640, path
    for directory in (paths.root, paths.base_dir):
        assert os.stat(directory).st_mode & 0o777 == 0o711


# --- 6. downloads: size cap and deadline -------------------------------------------------------------------
class FakeResponse(object):
    def __init__(self, chunk=b'\0' * MiB, delay=0.0, length=None):
        self.chunk = chunk
        self.delay = delay
        self.headers = {'Content-Length': str(length)} if length is not None else {}
        self.reads = 0

    def read1(self, _size):
        self.reads += 1
        time.sleep(self.delay)
        return self.chunk


def fetch_with(monkeypatch, tmp_path, response, **cache_args):
    monkeypatch.setattr(_image_fetch, 'open_url', lambda *a, **k: response)
    paths = InstancePaths(str(tmp_path / 'inst'))
    cache = ImageCache(paths, **cache_args)
    return paths, cache


def test_endless_download_stops_at_the_root_disk_cap(monkeypatch, tmp_path):
    response = FakeResponse()
    paths, cache = fetch_with(monkeypatch, tmp_path, response)
    limit, _why = download_cap(16 * MiB, None)
    with pytest.raises(ImageUnacceptable, match='larger than the size cap derived from the flavor root disk'):
        cache.get({'url': 'http://images.invalid/endless'}, max_size=16 * MiB)
    assert response.reads == limit // MiB + 1
    assert [f for f in os.listdir(paths.base_dir) if not f.startswith('.')] == []


def test_max_image_size_wins_when_smaller(monkeypatch, tmp_path):
    response = FakeResponse()
    _paths, cache = fetch_with(monkeypatch, tmp_path, response, max_image_size=4 * MiB)
    with pytest.raises(ImageUnacceptable, match=r'larger than max_image_size \(4194304 bytes\)'):
        cache.get({'url': 'http://images.invalid/endless'}, max_size=1024 * MiB)
    assert response.reads == 5


def test_declared_length_over_the_cap_is_not_downloaded(monkeypatch, tmp_path):
    response = FakeResponse(length=10 * 1024 * MiB)
    _paths, cache = fetch_with(monkeypatch, tmp_path, response, max_image_size=MiB)
    with pytest.raises(ImageUnacceptable, match='Content-Length'):
        cache.get({'url': 'http://images.invalid/big'})
    assert response.reads == 0


def test_trickle_stops_at_the_deadline(monkeypatch, tmp_path):
    response = FakeResponse(chunk=b'x', delay=0.05)
    _paths, cache = fetch_with(monkeypatch, tmp_path, response, fetch_deadline=1)
    started = time.monotonic()
    with pytest.raises(ImageFetchError, match='fetch_deadline of 1s reached'):
        cache.get({'url': 'http://images.invalid/trickle'})
    assert 0.9 < time.monotonic() - started < 5


@pytest.mark.parametrize('max_size, max_image_size, expected', [
    (None, None, (None, None)),
    (0, None, (None, None)),
    (1024 * MiB, None, (int(1024 * MiB * 1.1) + 64 * MiB, 'root')),
    (1024 * MiB, 10 * MiB, (10 * MiB, 'max_image_size')),
    (None, 10 * MiB, (10 * MiB, 'max_image_size')),
])
def test_download_cap(max_size, max_image_size, expected):
    limit, why = download_cap(max_size, max_image_size)
    assert limit == expected[0]
    assert (why is None) if expected[1] is None else (expected[1] in why)


@pytest.mark.parametrize('params, error', [
    ({'max_image_size': '20G'}, None),
    ({'max_image_size': '1048576'}, None),
    ({'max_image_size': 'lots'}, 'max_image_size'),
    ({'max_image_size': '0'}, 'larger than 0'),
    ({'fetch_deadline': -1}, 'fetch_deadline must not be negative'),
])
def test_fetch_settings(params, error):
    from ansible_collections.novalite.compute.plugins.module_utils._common.errors import InvalidInput
    if error is None:
        settings = _image_cache.fetch_settings(params)
        assert settings['max_image_size'] in (20 * 1024 ** 3, MiB)
    else:
        with pytest.raises(InvalidInput, match=error):
            _image_cache.fetch_settings(params)


def test_content_digest_ignores_holes_but_not_data(tmp_path):
    sparse, dense = str(tmp_path / 'sparse'), str(tmp_path / 'dense')
    with open(sparse, 'wb') as handle:
        handle.truncate(16 * MiB)
        handle.seek(70000)
        handle.write(b'x' * 50000)          # straddles a block boundary
        handle.seek(5 * MiB)
        handle.write(b'y')
    with open(sparse, 'rb') as src, open(dense, 'wb') as dst:
        dst.write(src.read())               # the same bytes, all allocated
    assert _image_provenance.content_digest(sparse) == _image_provenance.content_digest(dense)
    with open(dense, 'r+b') as handle:
        handle.seek(15 * MiB)
        handle.write(b'z')
    assert _image_provenance.content_digest(sparse) != _image_provenance.content_digest(dense)


@pytest.mark.parametrize('attack', ['endless-trailer', 'slow-headers'])
def test_the_deadline_covers_headers_and_chunk_trailers(attack, tmp_path):
    """What blocks inside one read (http.client reads trailers and headers
    itself) is stopped by the wall clock too."""
    import socket
    import threading
    server = socket.socket()
    server.bind(('127.0.0.1', 0))
    server.listen(1)

    def serve():
        peer, _addr = server.accept()
        peer.recv(65536)
        try:
            if attack == 'endless-trailer':
                peer.sendall(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nQFI\xfb\r\n0\r\n')
                while True:
                    peer.sendall(b'X-Pad: ' + b'a' * 1000 + b'\r\n')
            for n in range(100):
                peer.sendall(b'HTTP/1.1 200 OK\r\n' if n == 0 else b'X-H%d: 1\r\n' % n)
                time.sleep(0.3)
        except OSError:
            pass
        finally:
            peer.close()

    threading.Thread(target=serve, daemon=True).start()
    cache = ImageCache(InstancePaths(str(tmp_path / 'inst')), fetch_timeout=5, fetch_deadline=1)
    started = time.monotonic()
    with pytest.raises(ImageFetchError, match='fetch_deadline of 1s reached'):
        cache.get({'url': 'http://127.0.0.1:%d/image' % server.getsockname()[1]})
    assert time.monotonic() - started < 5
    server.close()


def test_a_local_source_that_grows_is_copied_only_as_far_as_it_was(tmp_path):
    source = qcow2(tmp_path / 'grow.qcow2')
    size = os.path.getsize(source)
    cache = ImageCache(InstancePaths(str(tmp_path / 'inst')), force_raw=False)
    real_copy = _image_fetch._copy_fd

    def grow_then_copy(src, out, length, hashers):
        with open(source, 'ab') as handle:      # the owner appends while we copy
            handle.write(b'\0' * MiB)
        return real_copy(src, out, length, hashers)

    _image_fetch._copy_fd = grow_then_copy
    try:
        base = cache.get({'url': 'file://' + source, 'checksum': 'sha256:' + digest(source)})
    finally:
        _image_fetch._copy_fd = real_copy
    assert os.path.getsize(base.path) == size
