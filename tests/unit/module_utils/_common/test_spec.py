"""Input validation table."""

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common import spec as _spec
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import InvalidInput


@pytest.mark.parametrize('name, ok', [
    ('web1', True), ('a<b>&"c\'', True), ('with space', True),
    ('a/b', False), ('..', False), ('x..y', False), ('', False), ('-x', False), ('.x', False),
    ('tab\there', False), ('x' * 256, False),
])
def test_names(name, ok):
    if ok:
        assert _spec.validate_name(name) == name
    else:
        with pytest.raises(InvalidInput):
            _spec.validate_name(name)


@pytest.mark.parametrize('flavor, error', [
    ({'vcpus': 1, 'memory_mb': 64}, None),
    ({'vcpus': 1, 'memory_mb': 0}, 'memory_mb must be at least 1'),
    ({'vcpus': 0, 'memory_mb': 64}, 'vcpus must be at least 1'),
    ({'vcpus': 1, 'memory_mb': 64, 'root_gb': -1}, 'non-negative'),
    ({'vcpus': True, 'memory_mb': 64}, 'non-negative integer'),
    ({'memory_mb': 64}, 'flavor.vcpus is required'),
])
def test_flavors(flavor, error):
    if error is None:
        assert _spec.validate_flavor(flavor)['root_gb'] == 0
    else:
        with pytest.raises(InvalidInput, match=error):
            _spec.validate_flavor(flavor)


@pytest.mark.parametrize('checksum, result', [
    (None, None),
    ('sha256:' + 'AB' * 32, 'sha256:' + 'ab' * 32),
    ('md5:' + '0' * 32, 'md5:' + '0' * 32),
    ('sha256:abc', InvalidInput),
    ('crc32:00', InvalidInput),
    ('deadbeef', InvalidInput),
])
def test_checksums(checksum, result):
    if result is InvalidInput:
        with pytest.raises(InvalidInput):
            _spec.validate_checksum(checksum)
    else:
        assert _spec.validate_checksum(checksum) == result


def test_networks_and_urls():
    assert _spec.validate_networks([{'network': 'n', 'mac': 'FA:16:3E:00:00:01'}])[0]['mac'] == 'fa:16:3e:00:00:01'
    with pytest.raises(InvalidInput, match='unicast'):
        _spec.validate_networks([{'network': 'n', 'mac': '01:00:00:00:00:00'}])
    with pytest.raises(InvalidInput, match='exactly one'):
        _spec.validate_networks([{'network': 'n', 'bridge': 'b'}])
    with pytest.raises(InvalidInput, match='http'):
        _spec.validate_image({'url': 'ftp://x/y'})
    with pytest.raises(InvalidInput, match='255'):
        _spec.validate_metadata({'k': 'v' * 256})


# --- strings that cannot go into the domain XML or the config drive ----------------
def _params():
    return {'name': 'web1', 'state': 'running', 'flavor': {'vcpus': 1, 'memory_mb': 64},
            'image': {'url': 'http://images.example/cirros.qcow2'}, 'networks': [{'network': 'default'}],
            'metadata': {'role': 'web'}, 'key_data': ['ssh-ed25519 AAAAC3 ops'], 'user_data': '#cloud-config\n',
            'compute_host': 'hv1', 'instances_path': '/var/lib/novalite/instances'}


# field (as the message names it) -> puts a string into the module params there
PLACES = {
    'name': lambda p, text: p.update(name=text),
    'metadata key': lambda p, text: p.update(metadata={text: 'web'}),
    'metadata value of key': lambda p, text: p.update(metadata={'role': text}),
    'user_data': lambda p, text: p.update(user_data=text),
    'key_data[0]': lambda p, text: p.update(key_data=[text]),
    'image.url': lambda p, text: p['image'].update(url='http://images.example/' + text),
    'image.id': lambda p, text: p['image'].update(id=text),
    'networks[0].network': lambda p, text: p['networks'][0].update(network=text),
    'networks[0].bridge': lambda p, text: p.update(networks=[{'bridge': text}]),
    'networks[0].model': lambda p, text: p['networks'][0].update(model=text),
    'compute_host': lambda p, text: p.update(compute_host=text),
    'instances_path': lambda p, text: p.update(instances_path='/srv/' + text),
}
NAMES = ('name', 'metadata key')          # identifiers: no control character at all

NOT_XML = ['\x00', '\x07', '\x08', '\x0b', '\x0c', '\x1b', '\x1f',     # C0 controls but tab, LF, CR
           '\ufffe', '\uffff',                                          # noncharacters outside Char
           '\ud800', '\udbff', '\udc00', '\udfff']                      # lone surrogates
CONTROLS_XML_HOLDS = ['\t', '\n', '\r', '\x7f', '\x80', '\x85', '\x9f']  # DEL and C1 are Chars
ALWAYS_FINE = ['\u00e9', '\u00a0', '\ud7ff', '\ue000', '\ufffd', '\U00010000', '\U0001f600', '\U0010ffff',
               '<&>"\'']


def _normalise_with(field, text):
    params = _params()
    PLACES[field](params, 'a' + text + 'b')
    return _spec.normalise(params)


@pytest.mark.parametrize('char', NOT_XML, ids=lambda c: 'U+%04X' % ord(c))
@pytest.mark.parametrize('field', sorted(PLACES))
def test_characters_xml_cannot_hold_are_refused_in_every_field(field, char):
    with pytest.raises(InvalidInput) as caught:
        _normalise_with(field, char)
    message = caught.value.message
    assert message.startswith(field) and message.endswith(' contains U+%04X, which XML cannot hold' % ord(char))
    assert caught.value.step == 'validate input'


@pytest.mark.parametrize('char', CONTROLS_XML_HOLDS, ids=lambda c: 'U+%04X' % ord(c))
@pytest.mark.parametrize('field', sorted(PLACES))
def test_other_control_characters_are_refused_in_names_only(field, char):
    if field in NAMES:
        with pytest.raises(InvalidInput) as caught:
            _normalise_with(field, char)
        message = caught.value.message
        assert message.startswith(field) and message.endswith(' contains U+%04X, a control character' % ord(char))
    else:
        _normalise_with(field, char)


@pytest.mark.parametrize('char', ALWAYS_FINE, ids=lambda c: 'U+%04X' % ord(c[0]))
@pytest.mark.parametrize('field', sorted(PLACES))
def test_other_characters_are_accepted(field, char):
    _normalise_with(field, char)


def test_check_text_names_the_field_and_returns_the_value():
    assert _spec.check_text('user_data', 'line 1\n\tline 2') == 'line 1\n\tline 2'
    params = dict(_params(), metadata={'x': 'ring\x07'})
    with pytest.raises(InvalidInput) as caught:
        _spec.normalise(params)
    assert str(caught.value) == ("instance web1: validate input: "
                                 "metadata value of key 'x' contains U+0007, which XML cannot hold")
    with pytest.raises(InvalidInput) as caught:
        _spec.normalise(dict(params, name='web\ufffe1'))
    # the instance is not named with a name that is refused: the message shows it escaped
    assert str(caught.value) == "validate input: name 'web\\ufffe1' contains U+FFFE, which XML cannot hold"


@pytest.mark.parametrize('name, size', [
    ('x' * 247, 247),
    ('\u00e9' * 123 + 'x', 247),               # 2-byte characters: 124 characters
    ('\u20ac' * 82 + 'x', 247),                # 3-byte characters
    ('\U0001f600' * 61 + 'xyz', 247),          # 4-byte characters
    ('x' * 248, 248),
    ('\u00e9' * 124, 248),                      # 124 characters, 248 bytes
    ('\u20ac' * 82 + 'xy', 248),
    ('\U0001f600' * 62, 248),                   # 62 characters
    ('x' * 300, 300),
])
def test_name_length_is_counted_in_utf8_bytes(name, size):
    assert len(name.encode('utf-8')) == size
    if size <= 247:
        assert _spec.validate_name(name) == name
    else:
        with pytest.raises(InvalidInput, match=r'is %d bytes long in UTF-8; libvirt refuses names longer than '
                                               r'247 bytes \(it writes /etc/libvirt/qemu/<name>\.xml\.new' % size):
            _spec.validate_name(name)


# --- SSH destinations (instance_migrate dest_ssh / dest_host) ------------------------
@pytest.mark.parametrize('host', [
    'hv2', 'hv2.example.org', 'hv2.example.org.', 'HV-2', 'hv_2', 'x' * 63, '.'.join(['a' * 63] * 3) + '.' + 'b' * 61,
    '10.0.0.12', '127.0.0.1', '::1', '2001:db8::12', 'fe80::1%eth0', 'root@10.0.0.12', 'nova@hv2', 'a@b@hv2',
])
def test_hosts_ssh_can_reach(host):
    assert _spec.validate_host(host, 'dest_ssh.host') == host


@pytest.mark.parametrize('host, error', [
    ('', 'must not be empty'),
    (None, 'must not be empty'),
    ('-oProxyCommand=touch /tmp/x', 'must not contain whitespace'),
    ('-oProxyCommand=id', "must not start with '-'"),
    ('-hv2', "must not start with '-'"),
    ('hv 2', 'must not contain whitespace'),
    ('hv2\u00a0', 'must not contain whitespace'),
    ('hv\n2', r'contains U\+000A, a control character'),
    ('hv2\x00', r'contains U\+0000'),
    ('hv\x7f2', r'contains U\+007F, a control character'),
    ('[::1]', 'without brackets'),
    ('fe80::1%', 'invalid IPv6 zone'),
    ('fe80::1%e th0', 'must not contain whitespace'),
    ('1:2:3', 'not a valid IPv6 address'),
    ('hv2:22', 'not a valid IPv6 address'),
    ('999.0.0.1', 'not a valid IPv4 address'),
    ('10.0.0', 'not a valid IPv4 address'),
    ('hv2-.example', 'is not a host name'),
    ('hv2..example', 'is not a host name'),
    ('.', 'is not a host name'),
    ('hv/2', 'is not a host name'),
    ('h\u00e9v2', 'is not a host name'),
    ('x' * 64, 'is not a host name'),
    ('.'.join(['a' * 63] * 4), 'is not a host name'),
    ('-l@hv2', "must not start with '-'"),
    ('root@-oProxyCommand=id', 'is not a host name'),
    ('@hv2', r'\(the user before @\) must not be empty'),
    ('root@', 'names no host after @'),
])
def test_hosts_ssh_could_misread_are_refused(host, error):
    with pytest.raises(InvalidInput, match=error) as caught:
        _spec.validate_host(host, 'dest_ssh.host')
    assert caught.value.message.startswith('dest_ssh.host')


@pytest.mark.parametrize('user, ok', [
    ('nova', True), ('root', True), ('ad.user@corp', True), ('n-ova', True),
    ('', False), ('-oProxyCommand=id', False), ('-l', False), ('no va', False), ('nova\t', False), ('nova\x1b', False),
])
def test_ssh_user_names(user, ok):
    if ok:
        assert _spec.validate_ssh_user(user, 'dest_ssh.user') == user
    else:
        with pytest.raises(InvalidInput, match='^dest_ssh.user'):
            _spec.validate_ssh_user(user, 'dest_ssh.user')


@pytest.mark.parametrize('port, ok', [
    (None, True), (1, True), (22, True), (65535, True),
    (0, False), (65536, False), (-22, False), (True, False), ('22', False), (22.0, False),
])
def test_ssh_ports(port, ok):
    if ok:
        assert _spec.validate_port(port, 'dest_ssh.port') == port
    else:
        with pytest.raises(InvalidInput, match='^dest_ssh.port must be a port number from 1 to 65535'):
            _spec.validate_port(port, 'dest_ssh.port')


def _dest_ssh(dest_host, dest_ssh):
    from ansible_collections.novalite.compute.plugins.module_utils._migrate.module import MigrateModule
    engine = MigrateModule.__new__(MigrateModule)       # no hypervisor: only the option check runs
    engine.params = {'dest_ssh': dest_ssh}
    engine.this_host = 'hv1'
    return engine._dest_ssh(dest_host)


@pytest.mark.parametrize('dest_host, dest_ssh, error', [
    ('-oProxyCommand=id', None, "^dest_host '-oProxyCommand=id' must not start with '-'"),
    ('-oProxyCommand=id', {'host': None, 'user': 'nova', 'port': None}, '^dest_host '),
    ('hv2', {'host': '-oProxyCommand=id'}, "^dest_ssh.host '-oProxyCommand=id' must not start"),
    ('hv2', {'host': ''}, '^dest_ssh.host must not be empty'),
    ('hv2', {'host': '10.0.0.2', 'user': '-oProxyCommand=id'}, "^dest_ssh.user '-oProxyCommand=id' must not"),
    ('hv2', {'host': '10.0.0.2', 'port': 0}, '^dest_ssh.port must be a port number'),
])
def test_instance_migrate_refuses_a_destination_ssh_could_misread(dest_host, dest_ssh, error):
    with pytest.raises(InvalidInput, match=error):
        _dest_ssh(dest_host, dest_ssh)


def test_instance_migrate_destination_defaults_to_dest_host():
    assert _dest_ssh('hv2', {'host': None, 'user': None, 'port': None, 'identity_file': None, 'python': None}) == {
        'host': 'hv2', 'user': None, 'port': None, 'identity_file': None, 'python': 'python3'}
    assert _dest_ssh('hv2', {'host': '10.0.0.12', 'user': 'nova', 'port': 2222})['host'] == '10.0.0.12'


def test_a_same_host_resize_takes_any_compute_host_name():
    """ssh is never used when the destination is this host."""
    assert _dest_ssh('hv1', None)['host'] == 'hv1'
    from ansible_collections.novalite.compute.plugins.module_utils._migrate.module import MigrateModule
    engine = MigrateModule.__new__(MigrateModule)
    engine.params, engine.this_host = {'dest_ssh': None}, 'rack 3/hv:1'
    assert engine._dest_ssh('rack 3/hv:1')['host'] == 'rack 3/hv:1'
