"""instance_evacuate's input: the last known record is checked as a new
instance's options are, before anything is looked at or written; each bad
record is refused naming what is wrong."""

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import InvalidInput
from ansible_collections.novalite.compute.plugins.module_utils._instance.evacuate_module import validate_known_record

GOOD = {'uuid': '11111111-1111-4111-8111-111111111111', 'name': 'web1', 'host': 'hv1', 'vm_state': 'active',
        'flavor': {'name': 'm1.tiny', 'vcpus': 1, 'memory_mb': 64, 'root_gb': 1},
        'image': {'url': 'file:///images/tiny.qcow2'},
        'networks': [{'network': 'default', 'mac': 'FA:16:3E:00:00:01'}], 'metadata': {'role': 'web'},
        'key_data': ['ssh-ed25519 AAAA x'], 'user_data': '#cloud-config\n', 'config_drive': True,
        'virt_type': 'qemu', 'system_metadata': {'image_id': 'x'}, 'created_at': '2026-01-01T00:00:00Z'}


def bad(**changes):
    record = dict(GOOD)
    for key, value in changes.items():
        if value is KeyError:
            record.pop(key)
        else:
            record[key] = value
    return record


def test_a_good_record_is_normalised():
    known = validate_known_record(GOOD)
    assert known['networks'][0]['mac'] == 'fa:16:3e:00:00:01' and known['flavor']['ephemeral_gb'] == 0
    assert known['user_data'] == '#cloud-config\n' and known['system_metadata'] == {'image_id': 'x'}


def test_user_data_given_apart_replaces_the_records():
    assert validate_known_record(GOOD, user_data='#!/bin/sh\n')['user_data'] == '#!/bin/sh\n'


def test_shared_storage_needs_no_image():
    assert validate_known_record(bad(image=None))['image'] is None


@pytest.mark.parametrize('record, message', [
    ('not a dict', 'record must be a dict'),
    (bad(name=KeyError), 'name'),
    (bad(name='../etc'), 'name'),
    (bad(uuid=KeyError), 'record.uuid is required'),
    (bad(uuid='nope'), 'not a valid UUID'),
    (bad(host=KeyError), 'record.host is required'),
    (bad(host='hv\u0001'), 'record.host'),
    (bad(vm_state=''), 'record.vm_state is required'),
    (bad(flavor=KeyError), 'record.flavor is required'),
    (bad(flavor={'vcpus': 0, 'memory_mb': 64}), 'flavor.vcpus'),
    (bad(networks=[{'network': 'default'}]), 'has no MAC address'),
    (bad(networks=[{'network': 'default', 'mac': '01:00:5e:00:00:01'}]), 'not a unicast MAC'),
    (bad(networks=[{'network': 'a', 'bridge': 'b', 'mac': 'fa:16:3e:00:00:01'}]), 'exactly one of network'),
    (bad(image={'url': 'ftp://x'}), 'image.url must be'),
    (bad(virt_type='xen'), 'record.virt_type must be one of'),
    (bad(metadata={'k': 'x' * 300}), 'metadata keys and values'),
    (bad(user_data='\u0000'), 'user_data'),
], ids=lambda v: v if isinstance(v, str) and ' ' in v else '')
def test_a_bad_record_is_refused(record, message):
    with pytest.raises(InvalidInput) as raised:
        validate_known_record(record)
    assert message in str(raised.value)
    assert raised.value.step == 'validate input'
