# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base image cache: ``<instances_path>/_base`` (Nova's imagecache and
images.fetch_to_raw), with images treated as hostile until proven otherwise.

``ImageCache.get()`` holds a per-image file lock, so two spawns of the same
new image download it once: the second finds the file in place when it gets
the lock.

A miss brings the bytes into ``<sha1>.part`` once - streamed from the URL
(Ansible's ``open_url``: http, https) under a size cap and an overall
deadline, or, for ``file://``, copied from one open file descriptor (what is
inspected is what was copied, never the source path again). The requested
checksum is computed over those bytes. Then the copy is judged: its header
in-process first (``_image_format``: backing files, data files, encryption
and unknown formats are refused before any qemu-img call), then qemu-img
with the format pinned, no backing file opened and a wall clock. With
force_raw it is converted; the sidecar ``<sha1>.json`` (where it came from,
the digests, a fingerprint of the cached file) is written before the image
is renamed into place, so an entry never exists without its provenance.
Every failure removes the partial files. Files are ``0640``: not readable by
other local users; libvirt's dynamic ownership hands them to QEMU.

A hit is checked on every use: an entry fetched from another URL is only
served for a checksum its bytes match, and a requested checksum is compared
with the cached bytes (a digest the sidecar lacks is computed and stored; one
it has is trusted while the file's size and mtime are unchanged). A
mismatching entry is refused and left in place for the operator.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import stat
import threading
import urllib.parse

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import (
    CommandError,
    ImageFetchError,
    ImageUnacceptable,
    InvalidInput,
)
from ansible_collections.novalite.compute.plugins.module_utils._common.units import MiB
from ansible_collections.novalite.compute.plugins.module_utils._storage import qemu_img as _qemu_img
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_checks import evaluate
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_format import check_safe, inspect_path
from ansible_collections.novalite.compute.plugins.module_utils._store.locking import file_lock
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import FILE_MODE
from ansible_collections.novalite.compute.plugins.module_utils._store.records import atomic_write_json, utcnow

try:
    from ansible.module_utils.common.text.formatters import human_to_bytes
    from ansible.module_utils.urls import open_url
except ImportError:  # pragma: no cover - always present where modules run
    human_to_bytes = open_url = None

CHUNK = 1024 * 1024
PROGRESS_EVERY = 64 * 1024 * 1024
DEFAULT_FETCH_DEADLINE = 3600
# A qcow2 file may be a little larger than its virtual size (tables,
# refcounts): the size cap derived from the root disk leaves room for that.
QCOW2_SLACK_RATIO = 0.1
QCOW2_SLACK_BYTES = 64 * MiB


def image_id(image):
    """The identity of an image: its explicit id, else its URL."""
    return image.get('id') or image['url']


def cache_name(image):
    """File name in _base: sha1 of the image id (as Nova's get_cache_fname)."""
    return hashlib.sha1(image_id(image).encode('utf-8')).hexdigest()


def parse_checksum(checksum):
    """'sha256:abc…' -> ('sha256', 'abc…'); None -> (None, None)."""
    if not checksum:
        return None, None
    algorithm, _sep, digest = checksum.partition(':')
    return algorithm.lower(), digest.strip().lower()


def download_cap(max_size, max_image_size):
    """(bytes, why) a download may not exceed, or (None, None): the root
    disk (``max_size``) plus qcow2 slack, and/or ``max_image_size``."""
    caps = []
    if max_size:
        caps.append((int(max_size * (1 + QCOW2_SLACK_RATIO)) + QCOW2_SLACK_BYTES,
                     'the size cap derived from the flavor root disk (%d bytes)' % max_size))
    if max_image_size:
        caps.append((max_image_size, 'max_image_size (%d bytes)' % max_image_size))
    return min(caps) if caps else (None, None)


def fingerprint(path):
    """What changes when a file's bytes are rewritten: [size, mtime_ns,
    inode, ctime_ns] (the owner can reset the mtime, not the ctime; a chown
    by libvirt changes the ctime too, and costs one digest on the next
    checked use)."""
    info = os.stat(path)
    return [info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns]


def file_digest(path, algorithm):
    hasher = hashlib.new(algorithm)
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(CHUNK), b''):
            hasher.update(chunk)
    return hasher.hexdigest()


def fetch_settings(params):
    """The ImageCache keywords from the ``fetch_options`` module params;
    ``max_image_size`` accepts sizes like C(20G) or a number of bytes."""
    limit = params.get('max_image_size')
    if limit not in (None, ''):
        try:
            limit = human_to_bytes(str(limit))
        except ValueError as exc:
            raise InvalidInput('max_image_size: %s' % exc, step='validate input')
        if limit <= 0:
            raise InvalidInput('max_image_size must be larger than 0', step='validate input')
    for option in ('fetch_timeout', 'fetch_deadline'):
        if params.get(option) is not None and params[option] < 0:
            raise InvalidInput('%s must not be negative' % option, step='validate input')
    return {'fetch_timeout': params.get('fetch_timeout', 60), 'validate_certs': params.get('validate_certs', True),
            'fetch_deadline': params.get('fetch_deadline', DEFAULT_FETCH_DEADLINE), 'max_image_size': limit or None}


ZERO_BLOCK = b'\0' * 65536


def content_digest(path):
    """sha256 of a (sparse, raw) file's non-zero 64 KiB blocks and their
    offsets: what a guest reads, whatever the holes. Only allocated ranges
    are read (SEEK_DATA), so a big sparse raw image costs its data, and a
    copy that allocates differently (a migration) digests the same."""
    hasher = hashlib.sha256()
    with open(path, 'rb') as handle:
        fd = handle.fileno()
        size = os.fstat(fd).st_size
        block_size = len(ZERO_BLOCK)
        offset = 0          # every block below this one is digested
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:         # ENXIO: only a hole is left
                break
            end = os.lseek(fd, start, os.SEEK_HOLE)
            for block_at in range(max(offset, start - start % block_size), end, block_size):
                block = os.pread(fd, block_size, block_at)
                if block.strip(b'\0'):
                    hasher.update(block_at.to_bytes(8, 'big'))
                    hasher.update(block)
            offset = max(offset, end + (-end % block_size))
    return 'sparse-sha256:' + hasher.hexdigest()


class CachedImage(object):
    def __init__(self, path, fmt, virtual_size, name, fetched):
        self.path = path
        self.format = fmt
        self.virtual_size = virtual_size
        self.name = name
        self.fetched = fetched

    def to_dict(self):
        return {'path': self.path, 'format': self.format, 'virtual_size': self.virtual_size,
                'cache_name': self.name, 'fetched': self.fetched}


class _DeadlineReached(BaseException):
    """Raised by the SIGALRM handler of ``wall_clock`` (a BaseException, so
    no ``except Exception`` on the way swallows it)."""


@contextlib.contextmanager
def wall_clock(seconds):
    """The overall time a fetch may take: SIGALRM interrupts whatever blocks
    (connecting, headers, one read, chunk trailers) once ``seconds`` have
    passed. Inert for 0/None, and outside the main thread (signals)."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(_signum, _frame):
        raise _DeadlineReached()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class ImageCache(object):
    def __init__(self, paths, force_raw=False, fetch_timeout=60, validate_certs=True,
                 lock_timeout=3600.0, fetch_deadline=DEFAULT_FETCH_DEADLINE, max_image_size=None):
        self.paths = paths
        self.force_raw = force_raw
        self.fetch_timeout = fetch_timeout
        self.validate_certs = validate_certs
        self.lock_timeout = lock_timeout
        self.fetch_deadline = fetch_deadline
        self.max_image_size = max_image_size

    def sidecar(self, name):
        return self.paths.base_image(name) + '.json'

    def lookup(self, image):
        """The cached base for ``image`` if present (no fetch, no lock)."""
        name = cache_name(image)
        path = self.paths.base_image(name)
        return path if os.path.exists(path) else None

    def get(self, image, max_size=None, progress=None):
        """Return a CachedImage for ``image`` (a dict: url, checksum, format, id),
        fetching it on a miss. ``max_size`` is the flavor's root disk in bytes.
        ``progress(done, total)`` is called every PROGRESS_EVERY bytes of a
        download and at its end (total is None when the server does not say)."""
        name = cache_name(image)
        path = self.paths.base_image(name)
        self.paths.ensure_layout()
        with file_lock(self.paths.image_lock(name), timeout=self.lock_timeout,
                       what='image cache entry for %s' % image['url']):
            if os.path.exists(path):
                return self._use_cached(image, name, path, max_size)
            return self._fetch(image, name, path, max_size, progress)

    # -- hit -------------------------------------------------------------------
    def _use_cached(self, image, name, path, max_size):
        meta = self._read_sidecar(name, path, image)
        algorithm, digest = parse_checksum(image.get('checksum'))
        if meta.get('url') != image['url'] and not algorithm:
            raise ImageUnacceptable(
                'cached image %s (image id %s) was fetched from %s, not from %s: it is served for another URL '
                'only with a checksum its bytes match (give image.checksum, or another image.id)'
                % (path, image_id(image), meta.get('url'), image['url']))
        if algorithm:
            known = self._cached_digest(name, path, meta, algorithm)
            if known != digest:
                raise ImageUnacceptable(
                    'checksum mismatch for cached %s: its bytes are %s:%s, the task asks for %s:%s (the entry '
                    'is not used and is left in place; if the image behind this URL changed, give it a new '
                    'image id or URL)' % (image['url'], algorithm, known, algorithm, digest))
        fmt = meta.get('format')
        header = check_safe(inspect_path(path), declared_format=fmt)
        result = evaluate(_inspect_info(path, header.format), declared_format=fmt, max_size=max_size)
        return CachedImage(path, result['format'], result['virtual_size'], name, fetched=False)

    def _read_sidecar(self, name, path, image):
        """The entry's sidecar. One written before fingerprints existed (an
        earlier version) is brought up to date; a missing one (an earlier
        version renamed the image first, and could crash in between) is
        recreated from this request, trusting the bytes on first use as that
        version did. A sidecar that exists but cannot be read is refused."""
        try:
            with open(self.sidecar(name)) as handle:
                meta = json.load(handle)
        except FileNotFoundError:
            meta = {'url': image['url'], 'id': image_id(image), 'checksums': {}, 'adopted_at': utcnow(),
                    'converted': False}
        except (OSError, ValueError):
            meta = None
        if not isinstance(meta, dict):
            raise ImageUnacceptable('cached image %s has no readable record of where it came from (%s): it is not '
                                    'used; remove both if no instance uses the image' % (path, self.sidecar(name)))
        if 'fingerprint' not in meta:
            self._adopt(name, path, meta)
        return meta

    def _adopt(self, name, path, meta):
        """Fill in what an earlier version's sidecar lacks: the format (from
        the header), whether the entry is a conversion (a raw file whose size
        is not the size downloaded) and then its content digest, and the
        fingerprint."""
        if not meta.get('format'):
            meta['format'] = inspect_path(path).format
        if 'converted' not in meta:
            meta['converted'] = meta['format'] == 'raw' and meta.get('size') not in (None, os.path.getsize(path))
        if meta['converted'] and not meta.get('content_digest'):
            meta['content_digest'] = content_digest(path)
        self._store_meta(name, meta, fingerprint=fingerprint(path))

    def _cached_digest(self, name, path, meta, algorithm):
        """The ``algorithm`` digest of what the entry was fetched as, checked
        against the cached bytes. A converted entry's source digests cannot
        be recomputed: only those taken at fetch time are known, and its own
        bytes are checked against the content digest stored then."""
        checksums = dict(meta.get('checksums') or {})
        fresh = meta.get('fingerprint') == fingerprint(path)
        if meta.get('converted'):
            if not fresh:
                content = content_digest(path)
                if content != meta.get('content_digest'):
                    raise ImageUnacceptable('cached image %s changed since it was fetched and converted (content '
                                            'digest now %s, was %s): it is not used and is left in place'
                                            % (path, content, meta.get('content_digest')))
                self._store_meta(name, meta, fingerprint=fingerprint(path))
            if algorithm not in checksums:
                raise ImageUnacceptable(
                    'cached image %s was converted to raw when fetched; only its %s digest is known (%s is not): '
                    'give image.checksum with one of those, or another image.id'
                    % (path, ', '.join(sorted(checksums)) or 'no', algorithm))
            return checksums[algorithm]
        if fresh and algorithm in checksums:
            return checksums[algorithm]
        actual = file_digest(path, algorithm)
        if checksums.get(algorithm) not in (None, actual):
            raise ImageUnacceptable('cached image %s changed since it was fetched: its %s is now %s, it was %s: it '
                                    'is not used and is left in place' % (path, algorithm, actual,
                                                                          checksums[algorithm]))
        checksums[algorithm] = actual
        self._store_meta(name, meta, checksums=checksums, fingerprint=fingerprint(path))
        return actual

    def _store_meta(self, name, meta, **changes):
        meta.update(changes)
        atomic_write_json(self.sidecar(name), meta, mode=FILE_MODE)

    # -- miss --------------------------------------------------------------------
    def _fetch(self, image, name, path, max_size, progress=None):
        part = path + '.part'
        staged = path + '.converted'
        algorithm, _digest = parse_checksum(image.get('checksum'))
        # Hash only what was asked for (hashing costs more than the copy),
        # and sha256 when converting: the cached bytes will not be the image's.
        wanted = set([algorithm] if algorithm else []) | (set(['sha256']) if self.force_raw else set())
        cap = download_cap(max_size, self.max_image_size)
        try:
            local = _local_path(image['url'])
            if local is not None:
                checksums, size = self._copy_local(image['url'], local, part, wanted, cap, progress)
            else:
                checksums, size = self._download(image['url'], part, wanted, cap, progress)
            self._verify_checksum(image, checksums)
            fmt, virtual_size = _judge(part, image.get('format'), max_size)
            meta = {'url': image['url'], 'id': image_id(image), 'format': fmt, 'virtual_size': virtual_size,
                    'size': size, 'checksums': checksums, 'fetched_at': utcnow(), 'converted': False}
            final = part
            if self.force_raw and fmt != 'raw':
                _qemu_img.convert(part, fmt, staged, 'raw')
                os.unlink(part)
                fmt, virtual_size = _judge(staged, 'raw', max_size)
                meta.update(format=fmt, virtual_size=virtual_size, converted=True,
                            content_digest=content_digest(staged))
                final = staged
            os.chmod(final, FILE_MODE)
            meta['fingerprint'] = None       # taken once in place (a rename changes the ctime)
            atomic_write_json(self.sidecar(name), meta, mode=FILE_MODE)
            os.rename(final, path)
            self._store_meta(name, meta, fingerprint=fingerprint(path))
        except BaseException:
            for leftover in (part, staged):
                if os.path.exists(leftover):
                    os.unlink(leftover)
            raise
        return CachedImage(path, fmt, virtual_size, name, fetched=True)

    @staticmethod
    def _copy_local(url, local, target, wanted, cap, progress=None):
        """Copy a local image from ONE open descriptor into ``target``:
        (checksums of the copied bytes, size). Kernel copy unless hashing."""
        limit, why = cap
        try:
            source = os.open(local, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)   # a FIFO must not block
        except OSError as exc:
            raise ImageFetchError('could not download %s: %s' % (url, exc.strerror or exc))
        try:
            info = os.fstat(source)
            if not stat.S_ISREG(info.st_mode):
                raise ImageFetchError('%s is not a regular file' % url)
            if info.st_size == 0:
                raise ImageFetchError('download of %s returned no data' % url)
            if limit is not None and info.st_size > limit:
                raise ImageUnacceptable('%s is %d bytes, larger than %s' % (url, info.st_size, why))
            hashers = dict((alg, hashlib.new(alg)) for alg in wanted)
            out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                copied = _copy_fd(source, out, info.st_size, hashers)
                os.fsync(out)
            finally:
                os.close(out)
        except OSError as exc:
            raise ImageFetchError('could not copy %s: %s' % (url, exc.strerror or exc))
        finally:
            os.close(source)
        if progress:
            progress(copied, copied)
        return dict((alg, h.hexdigest()) for alg, h in hashers.items()), copied

    def _download(self, url, target, wanted, cap, progress=None):
        hashers = dict((alg, hashlib.new(alg)) for alg in wanted)
        count = {'received': 0, 'total': None}
        try:
            with wall_clock(self.fetch_deadline):
                response = open_url(url, timeout=self.fetch_timeout, validate_certs=self.validate_certs)
                with open(target, 'wb') as out:
                    _stream(url, response, out, hashers, cap, count, progress)
                    out.flush()
                    os.fsync(out.fileno())
        except _DeadlineReached:
            raise ImageFetchError('download of %s stopped after %d bytes: fetch_deadline of %ss reached'
                                  % (url, count['received'], self.fetch_deadline))
        except (ImageUnacceptable, ImageFetchError):
            raise
        except Exception as exc:  # urllib, socket, ssl and OS errors all end here
            raise ImageFetchError('could not download %s: %s' % (url, getattr(exc, 'reason', None) or exc))
        received, total = count['received'], count['total']
        if total is not None and total != received:
            raise ImageFetchError('download of %s is truncated: got %d of %s bytes' % (url, received, total))
        if received == 0:
            raise ImageFetchError('download of %s returned no data' % url)
        if progress:
            progress(received, total)
        return dict((alg, h.hexdigest()) for alg, h in hashers.items()), received

    @staticmethod
    def _verify_checksum(image, checksums):
        algorithm, digest = parse_checksum(image.get('checksum'))
        if algorithm and checksums.get(algorithm) != digest:
            raise ImageUnacceptable('checksum mismatch for %s: expected %s:%s, got %s:%s'
                                    % (image['url'], algorithm, digest, algorithm, checksums.get(algorithm)))


def _stream(url, response, out, hashers, cap, count, progress):
    """Response body -> ``out``, hashed, under the size cap; ``count``
    keeps what arrived (for the deadline's message)."""
    limit, why = cap
    expected = response.headers.get('Content-Length')
    count['total'] = total = int(expected) if expected is not None and expected.isdigit() else None
    if limit is not None and total is not None and total > limit:
        raise ImageUnacceptable('%s is %d bytes (Content-Length), larger than %s: not downloaded' % (url, total, why))
    # read1: one receive at a time (a trickle returns at once, and the cap
    # is checked after every receive)
    read = getattr(response, 'read1', None) or response.read
    next_report = PROGRESS_EVERY
    while True:
        chunk = read(CHUNK)
        if not chunk:
            return
        count['received'] += len(chunk)
        if limit is not None and count['received'] > limit:
            raise ImageUnacceptable('download of %s stopped after %d bytes: larger than %s'
                                    % (url, count['received'], why))
        out.write(chunk)
        if progress and count['received'] >= next_report:
            progress(count['received'], total)
            next_report += PROGRESS_EVERY
        for hasher in hashers.values():
            hasher.update(chunk)


def _copy_fd(source, out, size, hashers):
    """Copy ``size`` bytes between descriptors; through Python only when
    hashing, else by the kernel (copy_file_range, or sendfile)."""
    copied = 0
    if hashers:
        while copied < size:        # what fstat said: a source that grows is not followed
            chunk = os.read(source, min(CHUNK, size - copied))
            if not chunk:
                break
            for hasher in hashers.values():
                hasher.update(chunk)
            view = memoryview(chunk)
            while view:
                view = view[os.write(out, view):]
            copied += len(chunk)
        return copied
    use_range = hasattr(os, 'copy_file_range')
    while copied < size:
        step = min(size - copied, 1 << 30)
        try:
            if use_range:
                count = os.copy_file_range(source, out, step)
            else:
                count = os.sendfile(out, source, copied, step)
        except OSError:
            if not use_range:
                raise
            use_range = False       # e.g. EXDEV on older kernels: sendfile instead
            os.lseek(source, copied, os.SEEK_SET)
            continue
        if not count:
            break
        copied += count
    return copied


def _judge(path, declared_format, max_size):
    """(format, virtual size) of an image in the cache, or ImageUnacceptable.
    The header first, in-process; then qemu-img, format pinned."""
    header = check_safe(inspect_path(path), declared_format=declared_format)
    info = _inspect_info(path, header.format)
    check = _inspect_check(path, header.format) if header.format == 'qcow2' else None
    result = evaluate(info, check, declared_format=header.format, max_size=max_size)
    return result['format'], result['virtual_size']


def _local_path(url):
    """The file behind a file:// URL, or None for other schemes."""
    parsed = urllib.parse.urlparse(url)
    return urllib.parse.unquote(parsed.path) if parsed.scheme == 'file' else None


def _inspect_info(path, fmt):
    try:
        return _qemu_img.info(path, fmt)
    except CommandError as exc:
        raise ImageUnacceptable('image cannot be read by qemu-img: %s' % exc.message)


def _inspect_check(path, fmt):
    try:
        return _qemu_img.check(path, fmt)
    except CommandError as exc:
        raise ImageUnacceptable('image is corrupt or truncated: %s' % exc.message)
