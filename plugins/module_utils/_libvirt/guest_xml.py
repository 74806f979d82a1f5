# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The guest's ``libvirt.xml``: generated from the record by the designer and
written into the instance directory (what every flow defines from)."""

from __future__ import annotations

import os

from ansible_collections.novalite.compute.plugins.module_utils._libvirt.designer import build_domain
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import FILE_MODE


def write_guest_xml(paths, record):
    """Generate the guest XML from the record and write libvirt.xml."""
    xml = build_domain(record, paths).to_xml()
    tmp = paths.xml(record.uuid) + '.tmp'
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE), 'w') as handle:
        os.fchmod(handle.fileno(), FILE_MODE)
        handle.write(xml)
    os.rename(paths.xml(record.uuid) + '.tmp', paths.xml(record.uuid))
    return xml
