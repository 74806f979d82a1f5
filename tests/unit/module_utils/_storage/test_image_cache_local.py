"""The file:// fast path of the image cache, with real qemu-img."""

import os
import subprocess

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import ImageFetchError, ImageUnacceptable
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_cache import ImageCache
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import InstancePaths


@pytest.fixture
def qcow2(tmp_path):
    path = tmp_path / 'src dir' / 'img.qcow2'
    path.parent.mkdir()
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', str(path), '8M'], check=True)
    return path


def leftovers(paths):
    return [f for f in os.listdir(paths.base_dir) if f.endswith(('.part', '.converted'))]


def test_local_qcow2_is_converted_in_place_without_a_copy(tmp_path, qcow2):
    paths = InstancePaths(str(tmp_path / 'inst'))
    url = 'file://' + str(qcow2).replace(' ', '%20')
    seen = []
    base = ImageCache(paths, force_raw=True).get({'url': url}, progress=lambda d, t: seen.append((d, t)))
    assert base.fetched and base.format == 'raw' and base.virtual_size == 8 * 1024 * 1024
    assert seen == [(os.path.getsize(qcow2), os.path.getsize(qcow2))]
    assert leftovers(paths) == []
    again = ImageCache(paths, force_raw=True).get({'url': url})
    assert not again.fetched and again.path == base.path


def test_local_image_is_copied_when_kept_in_its_format(tmp_path, qcow2):
    paths = InstancePaths(str(tmp_path / 'inst'))
    base = ImageCache(paths).get({'url': 'file://' + str(qcow2).replace(' ', '%20')})
    assert base.format == 'qcow2'
    with open(base.path, 'rb') as copy, open(str(qcow2), 'rb') as original:
        assert copy.read() == original.read()
    assert leftovers(paths) == []


def test_local_image_checksum_and_missing_file(tmp_path, qcow2):
    paths = InstancePaths(str(tmp_path / 'inst'))
    with pytest.raises(ImageUnacceptable, match='checksum mismatch'):
        ImageCache(paths).get({'url': 'file://' + str(qcow2).replace(' ', '%20'), 'checksum': 'sha256:' + '0' * 64})
    with pytest.raises(ImageFetchError, match='could not download file:///nonexistent.qcow2: No such file'):
        ImageCache(paths).get({'url': 'file:///nonexistent.qcow2'})
    assert leftovers(paths) == [] and not [f for f in os.listdir(paths.base_dir) if not f.endswith('.lock')]
