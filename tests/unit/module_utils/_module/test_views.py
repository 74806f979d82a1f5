# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The instance as the modules return it: the record, without user_data,
with its paths and disks, and whether it has a guest agent channel."""

from __future__ import annotations

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._module.views import record_view
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import InstancePaths
from ansible_collections.novalite.compute.plugins.module_utils._store.records import InstanceRecord

UUID = '99999999-aaaa-4bbb-8ccc-000000000001'
FLAVOR = {'vcpus': 1, 'memory_mb': 64, 'root_gb': 1, 'ephemeral_gb': 0, 'swap_mb': 0}


@pytest.mark.parametrize('fields, expected', [({'guest_agent': True}, True), ({'guest_agent': False}, False),
                                              ({}, False)])
def test_the_view_says_whether_the_instance_has_a_guest_agent(fields, expected):
    record = InstanceRecord(dict({'uuid': UUID, 'name': 'web1', 'flavor': FLAVOR, 'user_data': 'secret'}, **fields))
    view = record_view(record, InstancePaths('/srv/instances'))
    assert view['guest_agent'] is expected
    assert 'user_data' not in view and view['xml_path'] == '/srv/instances/%s/libvirt.xml' % UUID
    assert [d['dev'] for d in view['disks']] == ['vda']
