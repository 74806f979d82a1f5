# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation and normalisation of libvirt_instance's input. Pure: raises
``InvalidInput`` before anything on the host is touched."""

from __future__ import annotations

import hashlib
import re
import uuid as uuidlib

from ansible_collections.novalite.compute.plugins.module_utils._errors import InvalidInput

FLAVOR_FIELDS = ('vcpus', 'memory_mb', 'root_gb', 'ephemeral_gb', 'swap_mb')
_MAC = re.compile(r'^[0-9a-f]{2}(:[0-9a-f]{2}){5}$')
_CONTROL = re.compile(r'[\x00-\x1f\x7f]')
MAX_METADATA_ITEM = 255
MAX_USER_DATA = 65535


def validate_name(name):
    if not name or not name.strip():
        raise InvalidInput('name must not be empty')
    if len(name) > 255:
        raise InvalidInput('name %r is longer than 255 characters' % name[:40])
    if '/' in name or '..' in name:
        raise InvalidInput("name %r must not contain '/' or '..'" % name)
    if _CONTROL.search(name):
        raise InvalidInput('name %r must not contain control characters' % name)
    if name.startswith(('-', '.')):
        raise InvalidInput("name %r must not start with '-' or '.'" % name)
    return name


def validate_uuid(value):
    if value is None:
        return None
    try:
        return str(uuidlib.UUID(str(value)))
    except ValueError:
        raise InvalidInput('uuid %r is not a valid UUID' % value)


def validate_flavor(flavor):
    result = {}
    for field in FLAVOR_FIELDS:
        value = flavor.get(field)
        value = 0 if value is None and field in ('root_gb', 'ephemeral_gb', 'swap_mb') else value
        if value is None:
            raise InvalidInput('flavor.%s is required' % field)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidInput('flavor.%s must be a non-negative integer, got %r' % (field, value))
        result[field] = value
    if result['vcpus'] < 1:
        raise InvalidInput('flavor.vcpus must be at least 1')
    if result['memory_mb'] < 1:
        raise InvalidInput('flavor.memory_mb must be at least 1, got %d' % result['memory_mb'])
    if flavor.get('name'):
        result['name'] = flavor['name']
    return result


def validate_checksum(checksum):
    if not checksum:
        return None
    algorithm, sep, digest = checksum.partition(':')
    algorithm = algorithm.lower()
    if not sep or algorithm not in hashlib.algorithms_guaranteed or algorithm.startswith('shake'):
        raise InvalidInput("image.checksum must look like 'sha256:<hex>' (algorithms: %s), got %r"
                           % (', '.join(sorted(a for a in hashlib.algorithms_guaranteed if not a.startswith('shake'))),
                              checksum))
    digest = digest.strip().lower()
    expected_len = hashlib.new(algorithm).digest_size * 2
    if len(digest) != expected_len or not re.match(r'^[0-9a-f]+$', digest):
        raise InvalidInput('image.checksum: a %s digest is %d hex characters' % (algorithm, expected_len))
    return '%s:%s' % (algorithm, digest)


def validate_image(image):
    if not image.get('url'):
        raise InvalidInput('image.url is required')
    url = image['url']
    if not re.match(r'^(https?|file)://', url):
        raise InvalidInput('image.url must be http://, https:// or file://, got %r' % url)
    result = {'url': url, 'checksum': validate_checksum(image.get('checksum')),
              'format': image.get('format'), 'id': image.get('id')}
    return result


def validate_networks(networks):
    result = []
    for index, nic in enumerate(networks or []):
        network, bridge = nic.get('network'), nic.get('bridge')
        if bool(network) == bool(bridge):
            raise InvalidInput('networks[%d]: give exactly one of network or bridge' % index)
        mac = nic.get('mac')
        if mac is not None:
            mac = mac.lower()
            if not _MAC.match(mac) or int(mac[:2], 16) & 1:
                raise InvalidInput('networks[%d].mac %r is not a unicast MAC address' % (index, nic['mac']))
        entry = {'network': network, 'bridge': bridge, 'mac': mac, 'model': nic.get('model') or 'virtio'}
        result.append(entry)
    return result


def validate_metadata(metadata):
    result = {}
    for key, value in (metadata or {}).items():
        key, value = str(key), str(value)
        if not key or len(key) > MAX_METADATA_ITEM or len(value) > MAX_METADATA_ITEM:
            raise InvalidInput('metadata keys and values must be 1-255 characters (key %r)' % key[:40])
        if _CONTROL.search(key):
            raise InvalidInput('metadata key %r must not contain control characters' % key)
        result[key] = value
    return result


def validate_user_data(user_data):
    if user_data is not None and len(user_data.encode('utf-8')) > MAX_USER_DATA:
        raise InvalidInput('user_data is larger than %d bytes' % MAX_USER_DATA)
    return user_data


def _optional(validator, value):
    return None if value is None else validator(value)


def normalise(params):
    """Module params -> the desired instance (a dict). ``None`` means "not
    given": an existing instance keeps what it has; creating one needs at
    least flavor and image (checked by the plan)."""
    desired = {
        'name': validate_name(params['name']),
        'uuid': validate_uuid(params.get('uuid')),
        'state': params['state'],
        'locked': params.get('locked'),
    }
    if params['state'] == 'absent':
        return desired
    desired.update({
        'flavor': _optional(validate_flavor, params.get('flavor')),
        'image': _optional(validate_image, params.get('image')),
        'networks': validate_networks(params.get('networks')),
        'metadata': _optional(validate_metadata, params.get('metadata')),
        'key_data': list(params.get('key_data') or []),
        'user_data': validate_user_data(params.get('user_data')),
        'config_drive': bool(params.get('config_drive')),
        'virt_type': params.get('virt_type') or 'kvm',
        'use_cow_images': params.get('use_cow_images', True),
    })
    return desired
