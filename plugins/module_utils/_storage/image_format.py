# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read an untrusted image's header in-process, before any qemu-img call.

Letting qemu-img probe an image is already trusting it: a qcow2 image names
its own backing file, and qemu-img opens it. A backing file that is a FIFO
hangs qemu-img for ever; ``nbd://host:port`` makes the hypervisor open a TCP
connection of the image's choosing; ``/etc/shadow`` leaks into the guest. So
the first bytes are read here with ``os.pread`` from the descriptor the
caller copies from (what is judged is what is used), the format is named by
its magic, and ``check_safe()`` refuses everything but a self-contained raw
or qcow2 image. Later qemu-img calls must pin the format (``-f
header.format``) so that qemu never probes on its own.

Formats. qcow2 is recognised by ``QFI\\xfb`` at offset 0 (version 1 of the
same magic is the old ``qcow``). Recognised and refused: qed, luks, vmdk
(sparse extent magic, or a text descriptor: such a descriptor names extent
files to open), vhdx, vdi, vhd (footer at the start or in the last 512
bytes), parallels, bochs, cloop, dmg. Anything else is ``raw``: bytes handed
to the guest as they are. An ISO 9660 image or a disk with an MBR or a GPT
partition table is raw in this sense - a layout the guest reads, not a
container format that makes qemu open anything - and is accepted.

Reads are bounded: 2 KiB at the start, 512 bytes at the end and, for
qcow2, at most its first cluster (2 MiB at most, the largest cluster qemu
opens) plus the backing file name. Stdlib only: this module runs before
qemu-img and imports neither libvirt nor Ansible.

Here: ``inspect_fd``/``inspect_path`` and the refusals (``refusal``,
``check_safe``). The magic numbers are in ``image_magic``, the qcow2 header
layout and its parser in ``qcow2_header``, ``ImageHeader`` and the bounded
reads in ``image_header``.
"""

from __future__ import annotations

import os
import stat

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import ImageUnacceptable
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_header import ImageHeader, read_at
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_magic import FOOTER_BYTES, PROBE_BYTES, detect_format
from ansible_collections.novalite.compute.plugins.module_utils._storage.qcow2_header import (
    COMPRESSION_TYPES,
    CRYPT_METHODS,
    INCOMPAT_CORRUPT,
    INCOMPAT_DATA_FILE,
    INCOMPAT_DIRTY,
    INCOMPAT_KNOWN,
    QCOW2_CLUSTER_BITS,
    QCOW2_VERSIONS,
    parse_qcow2,
)

ALLOWED_FORMATS = ('raw', 'qcow2')

MAX_VIRTUAL_SIZE = 2 ** 63 - 1
SHOWN_NAME_CHARS = 200      # a name taken from the image, as a message shows it

_FILE_KINDS = (
    (stat.S_ISDIR, 'a directory'),
    (stat.S_ISFIFO, 'a FIFO'),
    (stat.S_ISSOCK, 'a socket'),
    (stat.S_ISCHR, 'a character device'),
    (stat.S_ISBLK, 'a block device'),
)


def inspect_fd(fd, size=None):
    """Inspect the image open on ``fd`` (reads with ``os.pread``: the file
    offset is left where it was). ``size``: how much of the file is the
    image, by default all of it.

    Returns an ``ImageHeader``; a malformed header is reported in its
    ``defect``, not raised. Raises ImageUnacceptable when ``fd`` is not a
    regular file, OSError when reading fails.
    """
    file_size = _regular_file_size(fd)
    if size is None:
        size = file_size
    head = read_at(fd, 0, min(PROBE_BYTES, size))
    tail = read_at(fd, size - FOOTER_BYTES, FOOTER_BYTES) if size >= FOOTER_BYTES else b''
    fmt = detect_format(head, tail)
    if fmt == 'qcow2':
        return parse_qcow2(fd, size, head)
    return ImageHeader(fmt, size, virtual_size=size if fmt == 'raw' else None)


def inspect_path(path):
    """``inspect_fd`` on a file opened here. Opened non-blocking, so a FIFO
    is refused instead of waited on. Callers that go on to copy or use the
    image should open it themselves and call ``inspect_fd``."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        return inspect_fd(fd)
    finally:
        os.close(fd)


def refusal(header, declared_format=None):
    """Why this image must not be used, naming what was refused; None if it
    is a self-contained raw or qcow2 image. ``declared_format``: what the
    user said the image is (None: not said)."""
    fmt = header.format
    if fmt not in ALLOWED_FORMATS:
        return 'unsupported disk format %s (allowed: %s)' % (fmt, ', '.join(ALLOWED_FORMATS))
    if declared_format and declared_format != fmt:
        return 'image declared as %s but its content is %s' % (declared_format, fmt)
    if fmt == 'qcow2':
        reason = _qcow2_refusal(header)
        if reason:
            return reason
    if not header.virtual_size:
        return 'image has no usable virtual size (%r bytes)' % (header.virtual_size,)
    if header.virtual_size > MAX_VIRTUAL_SIZE:
        return 'image declares an absurd virtual size of %d bytes (more than 2**63 - 1)' % header.virtual_size
    return None


def check_safe(header, declared_format=None):
    """``header`` back if ``refusal()`` finds nothing, else ImageUnacceptable."""
    reason = refusal(header, declared_format)
    if reason:
        raise ImageUnacceptable(reason)
    return header


def _qcow2_refusal(header):
    if header.defect:
        return header.defect
    if header.version not in QCOW2_VERSIONS:
        return 'unsupported qcow2 version %s (supported: %s)' % (
            header.version, ', '.join(str(version) for version in QCOW2_VERSIONS))
    low, high = QCOW2_CLUSTER_BITS
    if not low <= header.cluster_bits <= high:
        return 'qcow2 cluster_bits %d is outside %d..%d (clusters of %d bytes to %d MiB)' % (
            header.cluster_bits, low, high, 1 << low, (1 << high) >> 20)
    if header.backing_file is not None:
        return 'qcow2 image has a backing file %s: images with a backing file are refused' % (
            _shown(header.backing_file))
    if header.data_file is not None or header.incompatible_features & INCOMPAT_DATA_FILE:
        named = ' ' + _shown(header.data_file) if header.data_file is not None else ''
        return 'qcow2 image uses an external data file%s: images with an external data file are refused' % named
    if header.crypt_method:
        method = CRYPT_METHODS.get(header.crypt_method, 'unknown method %d' % header.crypt_method)
        return 'qcow2 image is encrypted (%s): encrypted images are refused' % method
    unknown = header.incompatible_features & ~INCOMPAT_KNOWN
    if unknown:
        bits = [str(bit) for bit in range(64) if unknown >> bit & 1]
        return 'qcow2 image uses unknown incompatible features (bit%s %s): refused' % (
            's' if len(bits) > 1 else '', ', '.join(bits))
    if header.incompatible_features & INCOMPAT_CORRUPT:
        return 'qcow2 image is marked corrupt: refused'
    if header.incompatible_features & INCOMPAT_DIRTY:
        return ("qcow2 image is marked dirty (its refcounts may be inconsistent): repair it with "
                "'qemu-img check -r all' before using it")
    if header.compression_type and header.compression_type not in COMPRESSION_TYPES:
        return 'qcow2 image uses unknown compression type %d: refused' % header.compression_type
    return None


# -- helpers -----------------------------------------------------------------


def _shown(name, limit=SHOWN_NAME_CHARS):
    """A name taken from an image, fit for a message: characters that are
    not printable escaped, cut to ``limit`` characters."""
    if not name:
        return "''"
    shown = ''.join(char if char.isprintable() else char.encode('unicode_escape').decode('ascii') for char in name)
    return shown if len(shown) <= limit else shown[:limit] + '...'


def _regular_file_size(fd):
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode):
        kind = next((name for test, name in _FILE_KINDS if test(status.st_mode)), 'of an unknown kind')
        raise ImageUnacceptable('image is not a regular file: it is %s' % kind)
    return status.st_size
