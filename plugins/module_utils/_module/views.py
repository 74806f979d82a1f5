# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""How modules return an instance: the record plus where its files are."""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._libvirt.designer import disk_mapping


def record_view(record, paths):
    """The instance as the modules return it (user_data left out)."""
    data = record.to_dict()
    data.pop('user_data', None)
    data['guest_agent'] = bool(record.guest_agent)
    data['instance_dir'] = paths.instance_dir(record.uuid)
    data['xml_path'] = paths.xml(record.uuid)
    data['console_log'] = paths.console_log(record.uuid)
    data['disks'] = [
        dict(disk, path=paths.instance_file(record.uuid, disk['name']))
        for disk in disk_mapping(record)
    ] if record.flavor else []
    return data
