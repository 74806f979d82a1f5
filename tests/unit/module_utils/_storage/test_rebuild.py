# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""FileRebuilder on instances built by the real Spawner: what can come back
from the record alone does (swap, ephemeral, config drive, disk.info, the
base image through the cache); the root disk never does."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import NovaliteError
from ansible_collections.novalite.compute.plugins.module_utils._storage import qemu_img
from ansible_collections.novalite.compute.plugins.module_utils._storage.disks import backing_of
from ansible_collections.novalite.compute.tests.unit import fakes

UUID = '66666666-aaaa-4bbb-8ccc-000000000001'
FULL = dict(fakes.FLAVOR, ephemeral_gb=1, swap_mb=8)


@pytest.fixture
def images():
    return fakes.ImageCacheFactory()


@pytest.fixture
def hv(tmp_path, monkeypatch, images):
    fakes.install_clock(monkeypatch)
    return fakes.hypervisor(tmp_path / 'instances', image_cache=images)


def stat_of(path):
    info = os.stat(path)
    return info.st_ino, info.st_mtime_ns, info.st_size


def test_everything_in_place_recreates_nothing(hv):
    record = fakes.build(hv, UUID, flavor=dict(fakes.FLAVOR, swap_mb=8), config_drive=True)
    assert fakes.rebuilder(hv).ensure(record) == []


def test_missing_swap_ephemeral_config_drive_and_disk_info_come_back_the_root_disk_is_kept(hv):
    record = fakes.build(hv, UUID, flavor=FULL, config_drive=True, metadata={'role': 'web'})
    paths = hv.paths
    root = paths.instance_file(UUID, 'disk')
    before = stat_of(root)
    for name in ('disk.local', 'disk.swap', 'disk.config', 'disk.info'):
        os.unlink(paths.instance_file(UUID, name))

    assert fakes.rebuilder(hv).ensure(record) == ['disk.local', 'disk.swap', 'disk.config', 'disk.info']
    assert stat_of(root) == before
    assert os.path.getsize(paths.instance_file(UUID, 'disk.local')) == 1024 ** 3
    assert os.path.getsize(paths.instance_file(UUID, 'disk.swap')) == 8 * 1024 * 1024
    with open(paths.instance_file(UUID, 'disk.swap'), 'rb') as handle:
        assert b'SWAPSPACE2' in handle.read(4096)
    with open(paths.instance_file(UUID, 'disk.config'), 'rb') as handle:
        handle.seek(32768 + 40)
        assert handle.read(8) == b'config-2'                # the ISO9660 volume label
    with open(paths.instance_file(UUID, 'disk.info')) as handle:
        assert json.load(handle) == {root: 'qcow2', paths.instance_file(UUID, 'disk.local'): 'raw',
                                     paths.instance_file(UUID, 'disk.swap'): 'raw'}


def test_a_missing_root_disk_is_an_error_and_nothing_is_made(hv):
    record = fakes.build(hv, UUID, flavor=dict(fakes.FLAVOR, swap_mb=8))
    os.unlink(hv.paths.instance_file(UUID, 'disk'))
    os.unlink(hv.paths.instance_file(UUID, 'disk.swap'))
    with pytest.raises(NovaliteError, match='root disk .* is missing; it holds the guest data'):
        fakes.rebuilder(hv).ensure(record)
    assert not os.path.exists(hv.paths.instance_file(UUID, 'disk'))
    assert not os.path.exists(hv.paths.instance_file(UUID, 'disk.swap'))


def test_a_missing_base_image_is_fetched_again_through_the_cache(hv, images):
    record = fakes.build(hv, UUID)
    backing, _fmt = backing_of(hv.paths.instance_file(UUID, 'disk'))
    os.unlink(backing)
    os.unlink(backing + '.json')
    assert fakes.rebuilder(hv).ensure(record) == ['base image']
    assert os.path.exists(backing)
    assert [(c['fetched'], c['force_raw'], c['max_size']) for c in images.log] == [
        (True, False, 1024 ** 3), (True, False, 1024 ** 3)]         # the spawn's miss, then the refetch


def test_a_missing_backing_file_that_is_not_the_cache_entry_is_left_to_the_operator(hv, tmp_path, images):
    record = fakes.build(hv, UUID)
    elsewhere = str(tmp_path / 'elsewhere.qcow2')
    qemu_img.create(elsewhere, 'qcow2', 1024 * 1024)
    root = hv.paths.instance_file(UUID, 'disk')
    qemu_img.rebase_unsafe(root, 'qcow2', elsewhere, 'qcow2')
    os.unlink(elsewhere)
    with pytest.raises(NovaliteError, match='is not the cache entry .* restore it by hand'):
        fakes.rebuilder(hv).ensure(record)
    assert len(images.log) == 1                                     # never fetched for it
