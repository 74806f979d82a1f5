# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation and normalisation of libvirt_instance's input. Pure: raises
``InvalidInput`` before anything on the host is touched."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import uuid as uuidlib

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import InvalidInput

FLAVOR_FIELDS = ('vcpus', 'memory_mb', 'root_gb', 'ephemeral_gb', 'swap_mb')
_MAC = re.compile(r'^[0-9a-f]{2}(:[0-9a-f]{2}){5}$')
# Not a Char of XML 1.0 (#x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
# [#x10000-#x10FFFF]): other C0 controls, lone surrogates, U+FFFE, U+FFFF.
_NOT_XML_CHAR = re.compile('[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]')
# Unicode control characters (category Cc): C0 with tab and newlines, DEL, C1.
_CONTROL = re.compile('[\x00-\x1f\x7f-\x9f]')
MAX_METADATA_ITEM = 255
MAX_USER_DATA = 65535
# libvirt stores a domain as /etc/libvirt/qemu/<name>.xml.new while defining
# it, and a file name is at most 255 bytes: 255 - len('.xml.new').
MAX_NAME_BYTES = 247
VALIDATE_STEP = 'validate input'


def check_text(field, value, controls=True):
    """``value`` if it can go into the domain XML and the config drive, else
    InvalidInput naming ``field`` and the first character that cannot.
    Free text (``controls=True``) may hold tab and newlines, as XML does;
    names and keys (``controls=False``) hold no control character at all."""
    bad = _NOT_XML_CHAR.search(value)
    if bad:
        raise InvalidInput('%s contains U+%04X, which XML cannot hold' % (field, ord(bad.group())))
    bad = None if controls else _CONTROL.search(value)
    if bad:
        raise InvalidInput('%s contains U+%04X, a control character' % (field, ord(bad.group())))
    return value


def validate_name(name):
    if not name or not name.strip():
        raise InvalidInput('name must not be empty')
    check_text('name %r' % name[:40], name, controls=False)
    size = len(name.encode('utf-8'))
    if size > MAX_NAME_BYTES:
        raise InvalidInput('name %r... is %d bytes long in UTF-8; libvirt refuses names longer than %d bytes '
                           '(it writes /etc/libvirt/qemu/<name>.xml.new, and a file name is at most 255 bytes)'
                           % (name[:40], size, MAX_NAME_BYTES))
    if '/' in name or '..' in name:
        raise InvalidInput("name %r must not contain '/' or '..'" % name)
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
    url = check_text('image.url', image['url'])
    if not re.match(r'^(https?|file)://', url):
        raise InvalidInput('image.url must be http://, https:// or file://, got %r' % url)
    if image.get('id') is not None:
        # not in the XML, but it names the cache entry (sha1 of its UTF-8,
        # which a lone surrogate does not have) and is shown with the instance
        check_text('image.id', image['id'])
    result = {'url': url, 'checksum': validate_checksum(image.get('checksum')),
              'format': image.get('format'), 'id': image.get('id')}
    return result


def validate_networks(networks):
    result = []
    for index, nic in enumerate(networks or []):
        network, bridge = nic.get('network'), nic.get('bridge')
        if bool(network) == bool(bridge):
            raise InvalidInput('networks[%d]: give exactly one of network or bridge' % index)
        for field in ('network', 'bridge', 'model'):
            if nic.get(field):
                check_text('networks[%d].%s' % (index, field), nic[field])
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
        check_text('metadata key %r' % key, key, controls=False)
        check_text('metadata value of key %r' % key, value)
        result[key] = value
    return result


def validate_user_data(user_data):
    if user_data is not None and len(check_text('user_data', user_data).encode('utf-8')) > MAX_USER_DATA:
        raise InvalidInput('user_data is larger than %d bytes' % MAX_USER_DATA)
    return user_data


def validate_key_data(key_data):
    return [check_text('key_data[%d]' % index, key) for index, key in enumerate(key_data or [])]


# --- where SSH connects (instance_migrate's destination) ---------------------------
# One label of a host name: letters, digits, '-' inside only; '_' too, as
# many inventories name hosts with it and ssh resolves them.
_HOST_LABEL = re.compile(r'[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?')
_IPV6_SCOPE = re.compile(r'[A-Za-z0-9_.-]+')
MAX_HOST_NAME = 253


def _ssh_word(field, text):
    """``text`` if it is one word ssh cannot take for an option: not empty,
    no control character, no whitespace, no leading '-'."""
    if not isinstance(text, str) or not text:
        raise InvalidInput('%s must not be empty' % field)
    check_text(field, text, controls=False)
    if any(char.isspace() for char in text):
        raise InvalidInput('%s %r must not contain whitespace' % (field, text))
    if text.startswith('-'):
        raise InvalidInput("%s %r must not start with '-' (ssh would read it as an option)" % (field, text))
    return text


def _host_address(field, host):
    if host.startswith('['):
        raise InvalidInput('%s %r: give an IPv6 address without brackets' % (field, host))
    if ':' in host:
        address, percent, scope = host.partition('%')
        try:
            ipaddress.IPv6Address(address)
        except ValueError:
            raise InvalidInput('%s %r is not a valid IPv6 address' % (field, host))
        if percent and not _IPV6_SCOPE.fullmatch(scope):
            raise InvalidInput('%s %r has an invalid IPv6 zone' % (field, host))
        return
    labels = (host[:-1] if host.endswith('.') else host).split('.')
    if len(host) > MAX_HOST_NAME or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise InvalidInput('%s %r is not a host name, an IPv4 or an IPv6 address' % (field, host))
    if all(label.isdigit() for label in labels):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            raise InvalidInput('%s %r is not a valid IPv4 address' % (field, host))


def validate_ssh_user(text, field='user'):
    """A user name for ``ssh -l``."""
    return _ssh_word(field, text)


def validate_host(text, field='host'):
    """An address for ssh: a host name, an IPv4 or an IPv6 address (no
    brackets), optionally after ``user@`` (the user checked as
    validate_ssh_user checks it). Returns ``text`` unchanged; refuses
    anything ssh could read as an option or that names no host."""
    _ssh_word(field, text)
    user, at, host = text.rpartition('@')
    if at:
        validate_ssh_user(user, '%s (the user before @)' % field)
        if not host:
            raise InvalidInput('%s %r names no host after @' % (field, text))
    _host_address(field, host)
    return text


def validate_address(text, field='address'):
    """A bare network address: a host name, an IPv4 or an IPv6 address (no
    brackets, no ``user@``). Returns ``text`` unchanged."""
    _ssh_word(field, text)
    if '@' in text:
        raise InvalidInput('%s %r must be an address only (no user@)' % (field, text))
    _host_address(field, text)
    return text


def validate_port(value, field='port'):
    """A TCP port, or None (ssh's default)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise InvalidInput('%s must be a port number from 1 to 65535, got %r' % (field, value))
    return value


def _optional(validator, value):
    return None if value is None else validator(value)


def normalise(params):
    """Module params -> the desired instance (a dict). ``None`` means "not
    given": an existing instance keeps what it has; creating one needs at
    least flavor and image (checked by the plan). A refusal names the step
    VALIDATE_STEP, and the instance once its name is known to be valid."""
    try:
        name = validate_name(params['name'])
    except InvalidInput as exc:
        raise exc.with_context(step=VALIDATE_STEP)
    try:
        return _desired(name, params)
    except InvalidInput as exc:
        raise exc.with_context(instance=name, step=VALIDATE_STEP)


def _desired(name, params):
    desired = {
        'name': name,
        'uuid': validate_uuid(params.get('uuid')),
        'state': params['state'],
        'locked': params.get('locked'),
    }
    for field in ('compute_host', 'instances_path'):   # both end up in the domain XML
        if params.get(field):
            check_text(field, params[field])
    if params['state'] == 'absent':
        return desired
    desired.update({
        'flavor': _optional(validate_flavor, params.get('flavor')),
        'image': _optional(validate_image, params.get('image')),
        'networks': validate_networks(params.get('networks')),
        'metadata': _optional(validate_metadata, params.get('metadata')),
        'key_data': validate_key_data(params.get('key_data')),
        'user_data': validate_user_data(params.get('user_data')),
        'config_drive': bool(params.get('config_drive')),
        'virt_type': params.get('virt_type') or 'kvm',
        'use_cow_images': params.get('use_cow_images', True),
        'guest_agent': _optional(bool, params.get('guest_agent')),
    })
    return desired
