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
"""

from __future__ import annotations

import os
import stat
import struct

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import ImageUnacceptable

ALLOWED_FORMATS = ('raw', 'qcow2')

PROBE_BYTES = 2048          # start of the file: every magic checked here fits (qemu probes as much)
FOOTER_BYTES = 512          # end of the file: vhd footer, dmg trailer
MAX_VIRTUAL_SIZE = 2 ** 63 - 1
SHOWN_NAME_CHARS = 200      # a name taken from the image, as a message shows it

# qcow2 (QEMU docs/interop/qcow2.txt); all numbers big-endian.
QCOW2_MAGIC = b'QFI\xfb'
QCOW2_VERSIONS = (2, 3)
QCOW2_CLUSTER_BITS = (9, 21)            # 512 bytes .. 2 MiB, what qemu opens
QCOW2_MAX_BACKING_NAME = 1023
QCOW2_MAX_EXTENSIONS = 64
# magic, version, backing_file_offset, backing_file_size, cluster_bits, size, crypt_method
QCOW2_COMMON = struct.Struct('>4sIQIIQI')
QCOW2_V2_LENGTH = 72
# incompatible_features, compatible_features, autoclear_features, refcount_order, header_length
QCOW2_V3_FIELDS = struct.Struct('>QQQII')
QCOW2_V3_LENGTH = QCOW2_V2_LENGTH + QCOW2_V3_FIELDS.size      # 104
QCOW2_COMPRESSION_TYPE_AT = 104
QCOW2_EXTENSION = struct.Struct('>II')  # type, length of the data that follows
QCOW2_EXT_END = 0x00000000
QCOW2_EXT_DATA_FILE = 0x44415441

INCOMPAT_DIRTY = 1 << 0
INCOMPAT_CORRUPT = 1 << 1
INCOMPAT_DATA_FILE = 1 << 2
INCOMPAT_COMPRESSION_TYPE = 1 << 3
INCOMPAT_EXTENDED_L2 = 1 << 4
INCOMPAT_KNOWN = (INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE | INCOMPAT_COMPRESSION_TYPE
                  | INCOMPAT_EXTENDED_L2)
COMPRESSION_TYPES = {0: 'zlib', 1: 'zstd'}
CRYPT_METHODS = {1: 'AES', 2: 'LUKS'}

_FILE_KINDS = (
    (stat.S_ISDIR, 'a directory'),
    (stat.S_ISFIFO, 'a FIFO'),
    (stat.S_ISSOCK, 'a socket'),
    (stat.S_ISCHR, 'a character device'),
    (stat.S_ISBLK, 'a block device'),
)


class ImageHeader(object):
    """What an image's first bytes say about it.

    ``format``: 'raw', 'qcow2' or the name of a recognised, refused format;
    ``size``: bytes in the file; ``virtual_size``: the disk the guest sees
    (raw: the file size; qcow2: its header's size field; None for the refused
    formats, which are not parsed). The qcow2 fields stay None elsewhere:
    ``version``, ``cluster_bits``, ``backing_file`` and ``data_file`` (names
    as the image stores them, decoded; None when absent), ``crypt_method``,
    ``incompatible_features``, ``compression_type``. ``defect`` is why the
    header cannot be trusted (truncated, offsets out of range), or None.
    """

    __slots__ = ('format', 'size', 'virtual_size', 'version', 'cluster_bits', 'backing_file', 'data_file',
                 'crypt_method', 'incompatible_features', 'compression_type', 'defect')

    def __init__(self, fmt, size, virtual_size=None):
        self.format = fmt
        self.size = size
        self.virtual_size = virtual_size
        self.version = None
        self.cluster_bits = None
        self.backing_file = None
        self.data_file = None
        self.crypt_method = None
        self.incompatible_features = None
        self.compression_type = None
        self.defect = None

    @property
    def encrypted(self):
        return bool(self.crypt_method)

    def __repr__(self):
        shown = ('%s=%r' % (name, getattr(self, name)) for name in self.__slots__ if getattr(self, name) is not None)
        return 'ImageHeader(%s)' % ', '.join(shown)


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
    head = _pread(fd, 0, min(PROBE_BYTES, size))
    tail = _pread(fd, size - FOOTER_BYTES, FOOTER_BYTES) if size >= FOOTER_BYTES else b''
    fmt = detect_format(head, tail)
    if fmt == 'qcow2':
        return _qcow2(fd, size, head)
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


def detect_format(head, tail=b''):
    """The format named by the first bytes of a file (``head``, up to
    PROBE_BYTES) and its last FOOTER_BYTES (``tail``, empty if the file is
    shorter); 'raw' when nothing matches."""
    for fmt, matches in _DETECTORS:
        if matches(head, tail):
            return fmt
    return 'raw'


# -- detection ---------------------------------------------------------------


def _at(offset, magic):
    def matches(head, _tail):
        return head[offset:offset + len(magic)] == magic
    return matches


def _vmdk(head, tail):
    if head[:4] in (b'KDMV', b'COWD'):          # sparse extent (VMDK4), ESX COW (VMDK3)
        return True
    if b'# Disk DescriptorFile' in head[:512]:
        return True
    # qemu's own probe: after comment and blank lines, a "version=N" line.
    for line in head.split(b'\n'):
        line = line.rstrip(b'\r')
        if line.startswith(b'#') or not line.strip(b' \t'):
            continue
        return line in (b'version=1', b'version=2', b'version=3')
    return False


def _vhd(head, tail):
    # Dynamic disks carry a copy of the footer at offset 0; fixed ones only
    # the footer at the end (511 bytes long in some old images).
    return head[:8] == b'conectix' or tail[:8] == b'conectix' or tail[1:9] == b'conectix'


def _dmg(_head, tail):
    return tail[:4] == b'koly'


_DETECTORS = (
    ('qcow', _at(0, QCOW2_MAGIC + struct.pack('>I', 1))),     # version 1 of the same magic
    ('qcow2', _at(0, QCOW2_MAGIC)),
    ('qed', _at(0, b'QED\x00')),
    ('luks', _at(0, b'LUKS\xba\xbe')),
    ('vmdk', _vmdk),
    ('vhdx', _at(0, b'vhdxfile')),
    ('vdi', _at(0x40, struct.pack('<I', 0xbeda107f))),
    ('vhd', _vhd),
    ('parallels', _at(0, b'WithoutFreeSpace')),
    ('parallels', _at(0, b'WithouFreSpacExt')),
    ('bochs', _at(0, b'Bochs Virtual HD Image')),
    ('cloop', _at(0, b'#!/bin/sh\n#V2.0 Format')),
    ('dmg', _dmg),
)


# -- qcow2 -------------------------------------------------------------------


def _qcow2(fd, size, head):
    header = ImageHeader('qcow2', size)
    if size < QCOW2_V2_LENGTH:
        header.defect = _truncated('header', QCOW2_V2_LENGTH, size)
        return header
    (_magic, version, backing_offset, backing_size, cluster_bits, virtual_size,
     crypt_method) = QCOW2_COMMON.unpack_from(head)
    header.version = version
    header.cluster_bits = cluster_bits
    header.virtual_size = virtual_size
    header.crypt_method = crypt_method
    if version not in QCOW2_VERSIONS or not QCOW2_CLUSTER_BITS[0] <= cluster_bits <= QCOW2_CLUSTER_BITS[1]:
        return header           # refused for that; the rest of the layout is not known
    cluster_size = 1 << cluster_bits
    header_length = QCOW2_V2_LENGTH
    header.incompatible_features = 0
    if version >= 3:
        if size < QCOW2_V3_LENGTH:
            header.defect = _truncated('header', QCOW2_V3_LENGTH, size)
            return header
        incompatible, _compat, _autoclear, _refcount_order, header_length = QCOW2_V3_FIELDS.unpack_from(
            head, QCOW2_V2_LENGTH)
        header.incompatible_features = incompatible
        if header_length < QCOW2_V3_LENGTH or header_length % 8:
            header.defect = ('qcow2 header length %d is invalid (at least %d, and a multiple of 8)'
                             % (header_length, QCOW2_V3_LENGTH))
            return header
        if header_length > cluster_size:
            header.defect = ('qcow2 header length %d exceeds the first cluster (%d bytes)'
                             % (header_length, cluster_size))
            return header
        if header_length > size:
            header.defect = _truncated('header', header_length, size)
            return header
        header.compression_type = head[QCOW2_COMPRESSION_TYPE_AT] if header_length > QCOW2_COMPRESSION_TYPE_AT else 0
    if backing_offset:
        header.defect = _backing_name_defect(backing_offset, backing_size, header_length, cluster_size, size)
        if header.defect:
            return header
        header.backing_file = _decoded(_pread(fd, backing_offset, backing_size))
    # The extensions fill the space up to the backing file name, or the
    # first cluster; qemu reads what lies beyond the end of the file as zeros.
    extensions_end = backing_offset or cluster_size
    area = _pread(fd, 0, min(extensions_end, size))
    header.defect = _walk_extensions(header, area, header_length, extensions_end)
    return header


def _backing_name_defect(offset, length, header_length, cluster_size, size):
    if length > QCOW2_MAX_BACKING_NAME:
        return 'qcow2 backing file name is %d bytes long (the format allows at most %d)' % (
            length, QCOW2_MAX_BACKING_NAME)
    if offset < header_length or offset + length > cluster_size:
        return ('qcow2 backing file name (offset %d, %d bytes) lies outside the space after the header '
                'in the first cluster (%d bytes)' % (offset, length, cluster_size))
    if offset + length > size:
        return ('image is truncated: its qcow2 backing file name (offset %d, %d bytes) lies beyond the end '
                'of the file (%d bytes)' % (offset, length, size))
    return None


def _walk_extensions(header, area, offset, end):
    """Record the data file name from the header extensions in ``area``
    (the file from offset 0); the problem found, or None."""
    count = 0
    while offset + QCOW2_EXTENSION.size <= min(end, len(area)):
        ext_type, length = QCOW2_EXTENSION.unpack_from(area, offset)
        if ext_type == QCOW2_EXT_END:
            return None
        count += 1
        if count > QCOW2_MAX_EXTENSIONS:
            return 'qcow2 header has more than %d header extensions' % QCOW2_MAX_EXTENSIONS
        start = offset + QCOW2_EXTENSION.size
        if start + length > end:
            return ('qcow2 header extension 0x%08x at offset %d (%d bytes) overruns the header area (%d bytes)'
                    % (ext_type, offset, length, end))
        if start + length > len(area):
            return ('image is truncated: its qcow2 header extension 0x%08x at offset %d (%d bytes) lies beyond '
                    'the end of the file (%d bytes)' % (ext_type, offset, length, header.size))
        if ext_type == QCOW2_EXT_DATA_FILE:
            header.data_file = _decoded(area[start:start + length])
        offset = start + (length + 7) // 8 * 8
    return None


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


def _decoded(data):
    return data.decode('utf-8', 'backslashreplace')


def _truncated(what, needed, size):
    return 'image is truncated: its qcow2 %s needs %d bytes but the file has %d' % (what, needed, size)


def _regular_file_size(fd):
    status = os.fstat(fd)
    if not stat.S_ISREG(status.st_mode):
        kind = next((name for test, name in _FILE_KINDS if test(status.st_mode)), 'of an unknown kind')
        raise ImageUnacceptable('image is not a regular file: it is %s' % kind)
    return status.st_size


def _pread(fd, offset, length):
    """``length`` bytes at ``offset``, fewer only at the end of the file."""
    chunks = []
    while length > 0:
        chunk = os.pread(fd, length, offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
        length -= len(chunk)
    return b''.join(chunks)
