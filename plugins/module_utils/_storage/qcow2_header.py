# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The qcow2 header (QEMU docs/interop/qcow2.txt): its layout, and
``parse_qcow2`` filling an ``ImageHeader`` from it - version, cluster size,
virtual size, encryption, incompatible features, compression type, the
backing file name and the external data file named by a header extension.
A malformed header is reported in the header's ``defect``, never raised.
Reads are bounded by the first cluster (2 MiB at most) plus the backing file
name. Stdlib only."""

from __future__ import annotations

import struct

from ansible_collections.novalite.compute.plugins.module_utils._storage.image_header import ImageHeader, decoded, read_at

# qcow2 (QEMU docs/interop/qcow2.txt); all numbers big-endian.
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


def parse_qcow2(fd, size, head):
    """The ``ImageHeader`` of the qcow2 image open on ``fd``: ``size`` bytes,
    ``head`` its first bytes as read for the magic."""
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
        header.backing_file = decoded(read_at(fd, backing_offset, backing_size))
    # The extensions fill the space up to the backing file name, or the
    # first cluster; qemu reads what lies beyond the end of the file as zeros.
    extensions_end = backing_offset or cluster_size
    area = read_at(fd, 0, min(extensions_end, size))
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
            header.data_file = decoded(area[start:start + length])
        offset = start + (length + 7) // 8 * 8
    return None


def _truncated(what, needed, size):
    return 'image is truncated: its qcow2 %s needs %d bytes but the file has %d' % (what, needed, size)
