# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The config drive: an ISO9660 volume labelled ``config-2`` in the
OpenStack layout, so cloud-init's ConfigDrive datasource reads it unchanged
(Nova's virt/configdrive.py and api/metadata/base.py).

    openstack/latest/meta_data.json     uuid, name, hostname, public_keys, meta
    openstack/latest/user_data          if given
    openstack/latest/network_data.json  one link per NIC, DHCP
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile

from ansible_collections.novalite.compute.plugins.module_utils._common.commands import run

VOLUME_LABEL = 'config-2'


def sanitize_hostname(name):
    """A DNS label from an instance name (Nova's utils.sanitize_hostname)."""
    host = re.sub(r'[^a-z0-9-]+', '-', name.lower()).strip('-.')
    return host[:63].rstrip('-') or 'instance'


def metadata_files(record, admin_password=None):
    """{relative path: bytes} for the drive. The admin password goes only
    into the drive (as Nova's admin_pass), never into the record."""
    keys = record.key_data or []
    meta = {
        'uuid': record.uuid,
        'name': record.name,
        'hostname': sanitize_hostname(record.name),
        'launch_index': 0,
        'availability_zone': None,
        'public_keys': dict(('key-%d' % i, key) for i, key in enumerate(keys)),
        'keys': [{'name': 'key-%d' % i, 'type': 'ssh', 'data': key} for i, key in enumerate(keys)],
        'meta': record.metadata or {},
        'devices': [],
    }
    if admin_password:
        meta['admin_pass'] = admin_password
    links = []
    networks = []
    for index, nic in enumerate(record.networks or []):
        link_id = 'tap%d' % index
        links.append({'id': link_id, 'type': 'phy', 'ethernet_mac_address': nic['mac'],
                      'mtu': None, 'vif_id': '%s-%d' % (record.uuid, index)})
        networks.append({'id': 'network%d' % index, 'type': 'ipv4_dhcp', 'link': link_id,
                         'network_id': nic.get('network') or nic.get('bridge')})
    files = {
        'openstack/latest/meta_data.json': json.dumps(meta, sort_keys=True).encode('utf-8'),
        'openstack/latest/network_data.json': json.dumps(
            {'links': links, 'networks': networks, 'services': []}, sort_keys=True).encode('utf-8'),
    }
    if record.user_data is not None:
        files['openstack/latest/user_data'] = record.user_data.encode('utf-8')
    return files


def make_drive(target, files):
    """Write ``files`` into an ISO at ``target`` (atomically: temp + rename)."""
    staging = tempfile.mkdtemp(prefix='.configdrive-', dir=os.path.dirname(target))
    iso_tmp = target + '.tmp'
    try:
        tree = os.path.join(staging, 'tree')
        for relpath, content in files.items():
            full = os.path.join(tree, relpath)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, 'wb') as handle:
                handle.write(content)
        run(['genisoimage', '-o', iso_tmp, '-ldots', '-allow-lowercase', '-allow-multidot', '-l',
             '-publisher', 'novalite.compute', '-quiet', '-J', '-r', '-V', VOLUME_LABEL, tree],
            'building the config drive')
        os.chmod(iso_tmp, 0o600)  # may hold admin_pass; libvirt hands it to QEMU at start
        os.rename(iso_tmp, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if os.path.exists(iso_tmp):
            os.unlink(iso_tmp)
