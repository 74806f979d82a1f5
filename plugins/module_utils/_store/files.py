# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The small file operations every durable write here is made of: appending
whole lines, fsyncing a path, syncing a whole filesystem at once, removing
a directory tree for good."""

from __future__ import annotations

import ctypes
import os
import shutil

TMP_PREFIX = '.tmp-'    # temporary files of interrupted writes start with it (the leftovers cleanup removes them)


def append_line(path, text, durable=True):
    """Append ``text`` (whole lines) to ``path`` with one ``write``."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, text.encode('utf-8'))
        if durable:
            os.fsync(fd)
    finally:
        os.close(fd)


def fsync_path(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def syncfs(directory):
    """Make everything written to the filesystem holding ``directory``
    durable with one ``syncfs``; False where the call is missing or refused
    (the caller then fsyncs each file)."""
    try:
        function = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return False
    fd = os.open(directory, os.O_RDONLY)
    try:
        return function(fd) == 0
    finally:
        os.close(fd)


def remove_tree(path):
    """Remove the directory ``path`` and everything in it, if it is there,
    and make the removal durable (its parent fsynced). Cut short, part of
    it is left, and removing it again finishes the job."""
    if not os.path.isdir(path):
        return False
    shutil.rmtree(path)
    fsync_path(os.path.dirname(path.rstrip(os.sep)) or os.sep)
    return True
