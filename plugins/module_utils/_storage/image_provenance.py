# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where a cache entry came from, and whether a request may use it: the
sidecar ``<sha1>.json`` beside each entry (URL, image id, format, the
digests of the bytes as fetched, whether they were converted, and a
fingerprint of the cached file), the digests themselves, and the checks a
hit passes before it is served (``check_hit``): an entry fetched from another
URL only for a checksum its bytes match, a requested checksum compared with
the cached bytes (a stored digest trusted while the fingerprint is
unchanged), a mismatching entry refused and left in place.
"""

from __future__ import annotations

import hashlib
import json
import os

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import ImageUnacceptable
from ansible_collections.novalite.compute.plugins.module_utils._common.units import CHUNK
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_format import inspect_path
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import FILE_MODE
from ansible_collections.novalite.compute.plugins.module_utils._store.records import atomic_write_json, utcnow

ZERO_BLOCK = b'\0' * 65536


def image_id(image):
    """The identity of an image: its explicit id, else its URL."""
    return image.get('id') or image['url']


def parse_checksum(checksum):
    """'sha256:abc…' -> ('sha256', 'abc…'); None -> (None, None)."""
    if not checksum:
        return None, None
    algorithm, _sep, digest = checksum.partition(':')
    return algorithm.lower(), digest.strip().lower()


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


def check_hit(sidecar, path, image):
    """The sidecar (at ``sidecar``) of the entry at ``path``, once ``image``
    (the request: url, checksum, id) may use it; else ImageUnacceptable."""
    meta = read_sidecar(sidecar, path, image)
    algorithm, digest = parse_checksum(image.get('checksum'))
    if meta.get('url') != image['url'] and not algorithm:
        raise ImageUnacceptable(
            'cached image %s (image id %s) was fetched from %s, not from %s: it is served for another URL '
            'only with a checksum its bytes match (give image.checksum, or another image.id)'
            % (path, image_id(image), meta.get('url'), image['url']))
    if algorithm:
        known = cached_digest(sidecar, path, meta, algorithm)
        if known != digest:
            raise ImageUnacceptable(
                'checksum mismatch for cached %s: its bytes are %s:%s, the task asks for %s:%s (the entry '
                'is not used and is left in place; if the image behind this URL changed, give it a new '
                'image id or URL)' % (image['url'], algorithm, known, algorithm, digest))
    return meta


def read_sidecar(sidecar, path, image):
    """The entry's sidecar. One written before fingerprints existed (an
    earlier version) is brought up to date; a missing one (an earlier
    version renamed the image first, and could crash in between) is
    recreated from this request, trusting the bytes on first use as that
    version did. A sidecar that exists but cannot be read is refused."""
    try:
        with open(sidecar) as handle:
            meta = json.load(handle)
    except FileNotFoundError:
        meta = {'url': image['url'], 'id': image_id(image), 'checksums': {}, 'adopted_at': utcnow(),
                'converted': False}
    except (OSError, ValueError):
        meta = None
    if not isinstance(meta, dict):
        raise ImageUnacceptable('cached image %s has no readable record of where it came from (%s): it is not '
                                'used; remove both if no instance uses the image' % (path, sidecar))
    if 'fingerprint' not in meta:
        adopt(sidecar, path, meta)
    return meta


def adopt(sidecar, path, meta):
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
    store_meta(sidecar, meta, fingerprint=fingerprint(path))


def cached_digest(sidecar, path, meta, algorithm):
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
            store_meta(sidecar, meta, fingerprint=fingerprint(path))
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
    store_meta(sidecar, meta, checksums=checksums, fingerprint=fingerprint(path))
    return actual


def store_meta(sidecar, meta, **changes):
    """Apply ``changes`` to ``meta`` and write it as the sidecar."""
    meta.update(changes)
    atomic_write_json(sidecar, meta, mode=FILE_MODE)
