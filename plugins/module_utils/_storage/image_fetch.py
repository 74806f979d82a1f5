# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bringing an image's bytes into the cache's ``.part`` file, once: streamed
from an http(s) URL (Ansible's ``open_url``) under a size cap
(``download_cap``) and an overall deadline (``wall_clock``), or, for
``file://``, copied from ONE open descriptor (``copy_local``: what is
inspected is what was copied, never the source path again). Both hash the
bytes as they pass and return (checksums, size); the judging of the copy is
the cache's (``image_cache``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import stat
import threading
import urllib.parse

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import ImageFetchError, ImageUnacceptable
from ansible_collections.novalite.compute.plugins.module_utils._common.units import CHUNK, PROGRESS_EVERY, MiB


def open_url(url, **kwargs):
    """Ansible's ``open_url``, imported at the first http(s) fetch: it
    brings the TLS stack (about 80 ms of every module run that never
    fetches, state_reconcile's included)."""
    from ansible.module_utils.urls import open_url as ansible_open_url
    return ansible_open_url(url, **kwargs)


DEFAULT_FETCH_DEADLINE = 3600
# A qcow2 file may be a little larger than its virtual size (tables,
# refcounts): the size cap derived from the root disk leaves room for that.
QCOW2_SLACK_RATIO = 0.1
QCOW2_SLACK_BYTES = 64 * MiB


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


def local_path(url):
    """The file behind a file:// URL, or None for other schemes."""
    parsed = urllib.parse.urlparse(url)
    return urllib.parse.unquote(parsed.path) if parsed.scheme == 'file' else None


def copy_local(url, local, target, wanted, cap, progress=None):
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


def download(url, target, wanted, cap, progress=None, timeout=60, validate_certs=True,
             deadline=DEFAULT_FETCH_DEADLINE):
    """Stream ``url`` into ``target``: (checksums of the received bytes,
    size). ``timeout``: per connect/read; ``deadline``: the whole fetch."""
    hashers = dict((alg, hashlib.new(alg)) for alg in wanted)
    count = {'received': 0, 'total': None}
    try:
        with wall_clock(deadline):
            response = open_url(url, timeout=timeout, validate_certs=validate_certs)
            with open(target, 'wb') as out:
                _stream(url, response, out, hashers, cap, count, progress)
                out.flush()
                os.fsync(out.fileno())
    except _DeadlineReached:
        raise ImageFetchError('download of %s stopped after %d bytes: fetch_deadline of %ss reached'
                              % (url, count['received'], deadline))
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
