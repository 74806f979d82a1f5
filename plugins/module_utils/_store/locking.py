# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Inter-process file locks (Nova's ``utils.synchronized(..., external=True)``).

An ``flock`` on a file under ``_locks/``: released by the kernel when the
holder dies, so a killed module never leaves an instance locked forever.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import time

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import LockTimeout


def _open_lock_file(path):
    """The lock file at ``path``, its private directory created if needed."""
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o700)
    return os.open(path, os.O_RDWR | os.O_CREAT, 0o600)


@contextlib.contextmanager
def file_lock(path, timeout=300.0, what=None, clock=time.monotonic, sleep=time.sleep):
    """Hold an exclusive lock on ``path`` (created if needed) for the block.

    Waits up to ``timeout`` seconds, then raises ``LockTimeout`` naming
    ``what`` (defaults to the path).
    """
    fd = _open_lock_file(path)
    try:
        deadline = clock() + timeout
        delay = 0.05
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
            if clock() >= deadline:
                raise LockTimeout('%s is held by another operation (waited %ss)'
                                  % (what or path, int(timeout)))
            sleep(delay)
            delay = min(delay * 2, 0.5)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


WRITERS_LOCK = '.writers.lock'


@contextlib.contextmanager
def directory_writers(directory, exclusive=False):
    """Writers of temporary files in ``directory`` hold this lock shared
    while their temporary file exists; whoever removes the temporary files
    that crashed writers left behind holds it exclusively, so it can never
    remove a live writer's file. A dead writer's share goes with it."""
    fd = os.open(os.path.join(directory, WRITERS_LOCK), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def try_lock(path):
    """An exclusive lock on ``path`` if nobody holds it now, else None.
    ``release(fd)`` gives it back."""
    fd = _open_lock_file(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES):
            return None
        raise
    return fd


def release(fd):
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
