# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rules that decide whether a fetched image may be used (Nova's
images.fetch_to_raw checks). Pure: input is qemu-img's parsed JSON."""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import ImageUnacceptable
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_format import ALLOWED_FORMATS


def evaluate(info, check=None, declared_format=None, max_size=None):
    """Judge one image.

    ``info``: ``qemu-img info --output=json`` of the probed image;
    ``check``: ``qemu-img check --output=json`` (qcow2 only) or None;
    ``declared_format``: what the user said the image is, or None;
    ``max_size``: the flavor's root disk in bytes (0/None: no limit).
    Returns ``{'format': ..., 'virtual_size': ...}`` or raises ImageUnacceptable.
    """
    fmt = info.get('format')
    if not fmt:
        raise ImageUnacceptable("'qemu-img info' could not determine the image format")
    if fmt not in ALLOWED_FORMATS:
        raise ImageUnacceptable('unsupported disk format %s (allowed: %s)' % (fmt, ', '.join(ALLOWED_FORMATS)))
    if declared_format and declared_format != fmt:
        raise ImageUnacceptable('image declared as %s but its content is %s' % (declared_format, fmt))
    backing = info.get('backing-filename') or info.get('full-backing-filename')
    if backing:
        raise ImageUnacceptable('fmt=%s backed by: %s (images with a backing file are refused)' % (fmt, backing))
    specific = (info.get('format-specific') or {}).get('data') or {}
    if specific.get('data-file'):
        raise ImageUnacceptable('fmt=%s uses an external data file %s (refused)' % (fmt, specific['data-file']))
    if specific.get('corrupt'):
        raise ImageUnacceptable('qcow2 image is marked corrupt')
    if check:
        problems = sum(int(check.get(key) or 0) for key in ('corruptions', 'check-errors'))
        if problems:
            raise ImageUnacceptable('image is corrupt or truncated: qemu-img check found %d error(s)' % problems)
    virtual_size = info.get('virtual-size')
    if not isinstance(virtual_size, int) or virtual_size <= 0:
        raise ImageUnacceptable('image has no usable virtual size (%r)' % (virtual_size,))
    if max_size and virtual_size > max_size:
        raise ImageUnacceptable(
            "Flavor's disk is too small for requested image. Flavor disk is %d bytes, image is %d bytes."
            % (max_size, virtual_size))
    return {'format': fmt, 'virtual_size': virtual_size}
