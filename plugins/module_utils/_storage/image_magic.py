# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The format an image's magic numbers name: qcow2 (``QFI\\xfb``; version 1
of the same magic is the old ``qcow``), and the formats recognised only to be
refused: qed, luks, vmdk (sparse extent magic, or a text descriptor), vhdx,
vdi, vhd (footer at the start or in the last 512 bytes), parallels, bochs,
cloop, dmg. Anything else is ``raw``. Pure: bytes in, a name out."""

from __future__ import annotations

import struct

PROBE_BYTES = 2048          # start of the file: every magic checked here fits (qemu probes as much)
FOOTER_BYTES = 512          # end of the file: vhd footer, dmg trailer
QCOW2_MAGIC = b'QFI\xfb'


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
