"""Input validation table."""

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._errors import InvalidInput
from ansible_collections.novalite.compute.plugins.module_utils import _spec


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
