# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The base image cache: ``<instances_path>/_base`` (Nova's imagecache and
images.fetch_to_raw).

``ImageCache.get()`` holds a per-image file lock, so two spawns of the same
new image download it once: the second finds the file in place when it gets
the lock. A miss streams the URL (Ansible's ``open_url``: http, https)
to ``<sha1>.part`` (hashing it only when a checksum is given); a ``file://``
image is not streamed: it is inspected (and, with force_raw, converted) where
it is, or copied by the kernel. Then length and checksum are checked, and it is inspected
with qemu-img (format, backing file, data file, corruption, virtual size),
optionally converts it to raw, and renames it into place. A sidecar
``<sha1>.json`` remembers where it came from and any digest computed. Every failure
removes the partial files.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.parse

from ansible_collections.novalite.compute.plugins.module_utils import _qemu_img
from ansible_collections.novalite.compute.plugins.module_utils._errors import (
    CommandError,
    ImageFetchError,
    ImageUnacceptable,
)
from ansible_collections.novalite.compute.plugins.module_utils._image_checks import evaluate
from ansible_collections.novalite.compute.plugins.module_utils._locking import file_lock
from ansible_collections.novalite.compute.plugins.module_utils._records import atomic_write_json, utcnow

try:
    from ansible.module_utils.urls import open_url
except ImportError:  # pragma: no cover - always present where modules run
    open_url = None

CHUNK = 1024 * 1024
PROGRESS_EVERY = 64 * 1024 * 1024


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
                 lock_timeout=3600.0):
        self.paths = paths
        self.force_raw = force_raw
        self.fetch_timeout = fetch_timeout
        self.validate_certs = validate_certs
        self.lock_timeout = lock_timeout

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
        meta = self._read_sidecar(name)
        algorithm, digest = parse_checksum(image.get('checksum'))
        known = (meta.get('checksums') or {}).get(algorithm) if algorithm else None
        if known and known != digest:
            raise ImageUnacceptable(
                'checksum mismatch for cached %s: the cache holds %s:%s, the task asks for %s:%s '
                '(the image behind this URL changed; give it a new image id or URL)'
                % (image['url'], algorithm, known, algorithm, digest))
        fmt = meta.get('format')
        result = evaluate(_inspect_info(path, fmt), declared_format=None, max_size=max_size)
        return CachedImage(path, result['format'], result['virtual_size'], name, fetched=False)

    def _read_sidecar(self, name):
        try:
            with open(self.sidecar(name)) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return {}

    # -- miss --------------------------------------------------------------------
    def _fetch(self, image, name, path, max_size, progress=None):
        part = path + '.part'
        staged = path + '.converted'
        local = _local_path(image['url'])
        try:
            if local is not None:
                # file:// fast path: no stream through Python. With force_raw
                # the local file is inspected and converted where it is;
                # otherwise the kernel copies it (copy_file_range).
                checksums, size = self._read_local(image, local, progress)
                source = local
            else:
                checksums, size = self._download(image, part, progress)
                source = part
            self._verify_checksum(image, checksums)
            info = _inspect_info(source)
            check = _inspect_check(source, info.get('format')) if info.get('format') == 'qcow2' else None
            result = evaluate(info, check, declared_format=image.get('format'), max_size=max_size)
            fmt = result['format']
            if source == local and not (self.force_raw and fmt != 'raw'):
                shutil.copyfile(local, part)
                source = part
            if self.force_raw and fmt != 'raw':
                _qemu_img.convert(source, fmt, staged, 'raw')
                if source == part:
                    os.unlink(part)
                converted = _inspect_info(staged, 'raw')
                if converted.get('format') != 'raw':
                    raise ImageUnacceptable('converted to raw, but format is now %s' % converted.get('format'))
                fmt = 'raw'
                os.chmod(staged, 0o644)
                os.rename(staged, path)
            else:
                os.chmod(part, 0o644)
                os.rename(part, path)
        except BaseException:
            for leftover in (part, staged):
                if os.path.exists(leftover):
                    os.unlink(leftover)
            raise
        atomic_write_json(self.sidecar(name), {
            'url': image['url'], 'id': image_id(image), 'format': fmt,
            'virtual_size': result['virtual_size'], 'size': size,
            'checksums': checksums, 'fetched_at': utcnow(),
        }, mode=0o644)
        return CachedImage(path, fmt, result['virtual_size'], name, fetched=True)

    @staticmethod
    def _read_local(image, local, progress=None):
        """(checksums, size) of a local image; hashed only when a checksum is asked for."""
        algorithm, _digest = parse_checksum(image.get('checksum'))
        try:
            size = os.path.getsize(local)
            checksums = {}
            if algorithm:
                hasher = hashlib.new(algorithm)
                with open(local, 'rb') as handle:
                    for chunk in iter(lambda: handle.read(CHUNK), b''):
                        hasher.update(chunk)
                checksums[algorithm] = hasher.hexdigest()
        except OSError as exc:
            raise ImageFetchError('could not download %s: %s' % (image['url'], exc.strerror or exc))
        if size == 0:
            raise ImageFetchError('download of %s returned no data' % image['url'])
        if progress:
            progress(size, size)
        return checksums, size

    def _download(self, image, target, progress=None):
        url = image['url']
        algorithm, _digest = parse_checksum(image.get('checksum'))
        # Hash only what was asked for: hashing costs more than the copy.
        hashers = {algorithm: hashlib.new(algorithm)} if algorithm else {}
        received = 0
        try:
            response = open_url(url, timeout=self.fetch_timeout, validate_certs=self.validate_certs)
            expected = response.headers.get('Content-Length')
            total = int(expected) if expected is not None and expected.isdigit() else None
            next_report = PROGRESS_EVERY
            with open(target, 'wb') as out:
                while True:
                    chunk = response.read(CHUNK)
                    if not chunk:
                        break
                    out.write(chunk)
                    received += len(chunk)
                    if progress and received >= next_report:
                        progress(received, total)
                        next_report += PROGRESS_EVERY
                    for hasher in hashers.values():
                        hasher.update(chunk)
                out.flush()
                os.fsync(out.fileno())
        except Exception as exc:  # urllib, socket, ssl and OS errors all end here
            raise ImageFetchError('could not download %s: %s' % (url, getattr(exc, 'reason', None) or exc))
        if expected is not None and expected.isdigit() and int(expected) != received:
            raise ImageFetchError('download of %s is truncated: got %d of %s bytes' % (url, received, expected))
        if received == 0:
            raise ImageFetchError('download of %s returned no data' % url)
        if progress:
            progress(received, total)
        return {alg: h.hexdigest() for alg, h in hashers.items()}, received

    @staticmethod
    def _verify_checksum(image, checksums):
        algorithm, digest = parse_checksum(image.get('checksum'))
        if algorithm and checksums.get(algorithm) != digest:
            raise ImageUnacceptable('checksum mismatch for %s: expected %s:%s, got %s:%s'
                                    % (image['url'], algorithm, digest, algorithm, checksums.get(algorithm)))


def _local_path(url):
    """The file behind a file:// URL, or None for other schemes."""
    parsed = urllib.parse.urlparse(url)
    return urllib.parse.unquote(parsed.path) if parsed.scheme == 'file' else None


def _inspect_info(path, fmt=None):
    try:
        return _qemu_img.info(path, fmt)
    except CommandError as exc:
        raise ImageUnacceptable('image cannot be read by qemu-img: %s' % exc.message)


def _inspect_check(path, fmt):
    try:
        return _qemu_img.check(path, fmt)
    except CommandError as exc:
        raise ImageUnacceptable('image is corrupt or truncated: %s' % exc.message)
