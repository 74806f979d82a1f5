# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What an image's first bytes say (``ImageHeader``), and the bounded reads
that fill it in: ``read_at`` (``os.pread``, the file offset is left where
it was) and ``decoded`` for names the image stores. Stdlib only."""

from __future__ import annotations

import os


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


def read_at(fd, offset, length):
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


def decoded(data):
    return data.decode('utf-8', 'backslashreplace')
