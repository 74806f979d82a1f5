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
in-process first (``image_format``: backing files, data files, encryption
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

Here: the cache (``ImageCache``: the lock, hit or miss, the judging of an
image and the rename into place). Bringing the bytes in is ``image_fetch``;
the sidecar, the digests and the checks of a hit are ``image_provenance``.
"""

from __future__ import annotations

import hashlib
import os

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import CommandError, ImageUnacceptable, InvalidInput
from ansible_collections.novalite.compute.plugins.module_utils._storage import qemu_img as _qemu_img
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_checks import evaluate
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_fetch import (
    DEFAULT_FETCH_DEADLINE,
    copy_local,
    download,
    download_cap,
    local_path,
)
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_format import check_safe, inspect_path
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_provenance import (
    check_hit,
    content_digest,
    fingerprint,
    image_id,
    parse_checksum,
    store_meta,
)
from ansible_collections.novalite.compute.plugins.module_utils._store.locking import file_lock
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import FILE_MODE
from ansible_collections.novalite.compute.plugins.module_utils._store.records import atomic_write_json, utcnow

try:
    from ansible.module_utils.common.text.formatters import human_to_bytes
except ImportError:  # pragma: no cover - always present where modules run
    human_to_bytes = None


def cache_name(image):
    """File name in _base: sha1 of the image id (as Nova's get_cache_fname)."""
    return hashlib.sha1(image_id(image).encode('utf-8')).hexdigest()


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
        meta = check_hit(self.sidecar(name), path, image)
        fmt = meta.get('format')
        header = check_safe(inspect_path(path), declared_format=fmt)
        result = evaluate(_inspect_info(path, header.format), declared_format=fmt, max_size=max_size)
        return CachedImage(path, result['format'], result['virtual_size'], name, fetched=False)

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
            local = local_path(image['url'])
            if local is not None:
                checksums, size = copy_local(image['url'], local, part, wanted, cap, progress)
            else:
                checksums, size = download(image['url'], part, wanted, cap, progress, timeout=self.fetch_timeout,
                                           validate_certs=self.validate_certs, deadline=self.fetch_deadline)
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
            store_meta(self.sidecar(name), meta, fingerprint=fingerprint(path))
        except BaseException:
            for leftover in (part, staged):
                if os.path.exists(leftover):
                    os.unlink(leftover)
            raise
        return CachedImage(path, fmt, virtual_size, name, fetched=True)

    @staticmethod
    def _verify_checksum(image, checksums):
        algorithm, digest = parse_checksum(image.get('checksum'))
        if algorithm and checksums.get(algorithm) != digest:
            raise ImageUnacceptable('checksum mismatch for %s: expected %s:%s, got %s:%s'
                                    % (image['url'], algorithm, digest, algorithm, checksums.get(algorithm)))


def _judge(path, declared_format, max_size):
    """(format, virtual size) of an image in the cache, or ImageUnacceptable.
    The header first, in-process; then qemu-img, format pinned."""
    header = check_safe(inspect_path(path), declared_format=declared_format)
    info = _inspect_info(path, header.format)
    check = _inspect_check(path, header.format) if header.format == 'qcow2' else None
    result = evaluate(info, check, declared_format=header.format, max_size=max_size)
    return result['format'], result['virtual_size']


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
