"""Image acceptance rules: a table over qemu-img JSON, and crafted images
inspected by the real qemu-img."""

import os
import subprocess

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import ImageUnacceptable
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_cache import _judge as judge_cached
from ansible_collections.novalite.compute.plugins.module_utils._storage.image_checks import evaluate

GiB = 1024 ** 3
QCOW2 = {'format': 'qcow2', 'virtual-size': GiB, 'format-specific': {'type': 'qcow2', 'data': {'corrupt': False}}}


def info(**changes):
    data = dict(QCOW2)
    data.update(changes)
    return data


@pytest.mark.parametrize('image, check, declared, max_size, error', [
    (info(), None, None, None, None),
    (info(), None, 'qcow2', 2 * GiB, None),
    ({'format': 'raw', 'virtual-size': 5}, None, None, None, None),
    (info(format=None), None, None, None, 'could not determine'),
    (info(format='vmdk'), None, None, None, 'unsupported disk format vmdk'),
    (info(), None, 'raw', None, 'declared as raw but its content is qcow2'),
    (info(**{'backing-filename': '/etc/shadow'}), None, None, None, 'backed by: /etc/shadow'),
    (info(**{'format-specific': {'data': {'data-file': '/dev/sda'}}}), None, None, None, 'external data file'),
    (info(**{'format-specific': {'data': {'corrupt': True}}}), None, None, None, 'marked corrupt'),
    (info(), {'corruptions': 3}, None, None, 'found 3 error'),
    (info(), {'check-errors': 1}, None, None, 'found 1 error'),
    (info(), {'corruptions': 0, 'leaks': 4}, None, None, None),
    (info(**{'virtual-size': 0}), None, None, None, 'no usable virtual size'),
    (info(**{'virtual-size': 2 * GiB}), None, None, GiB, "Flavor's disk is too small"),
    (info(**{'virtual-size': 2 * GiB}), None, None, 0, None),
])
def test_rules(image, check, declared, max_size, error):
    if error is None:
        assert evaluate(image, check, declared, max_size)['format'] == image['format']
    else:
        with pytest.raises(ImageUnacceptable, match=error):
            evaluate(image, check, declared, max_size)


def _qemu_img(*args):
    subprocess.run(('qemu-img',) + args, check=True, stdout=subprocess.DEVNULL)


@pytest.fixture
def good_qcow2(tmp_path):
    path = str(tmp_path / 'good.qcow2')
    _qemu_img('create', '-q', '-f', 'qcow2', path, '64M')
    _qemu_img('resize', '-q', path, '80M')
    return path


def _judge(path, max_size=None):
    """The cache's whole judgement: header in-process, then qemu-img pinned."""
    fmt, virtual_size = judge_cached(path, None, max_size)
    return {'format': fmt, 'virtual_size': virtual_size}


def test_crafted_good(good_qcow2):
    assert _judge(good_qcow2) == {'format': 'qcow2', 'virtual_size': 80 * 1024 ** 2}


def test_crafted_backing_file(tmp_path):
    path = str(tmp_path / 'backed.qcow2')
    _qemu_img('create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', '/etc/hostname', path, '1M')
    with pytest.raises(ImageUnacceptable, match='backing file /etc/hostname'):
        _judge(path)


def test_crafted_data_file(tmp_path):
    path = str(tmp_path / 'df.qcow2')
    _qemu_img('create', '-q', '-f', 'qcow2', '-o', 'data_file=%s' % (tmp_path / 'data.raw'), path, '1M')
    with pytest.raises(ImageUnacceptable, match='external data file'):
        _judge(path)


def test_crafted_truncated(tmp_path):
    path = str(tmp_path / 'full.qcow2')
    _qemu_img('create', '-q', '-f', 'qcow2', path, '16M')
    # fill clusters so that a cut leaves references past the end of the file
    subprocess.run(['qemu-io', '-f', 'qcow2', '-c', 'write -P 0xab 0 8M', path], check=True,
                   stdout=subprocess.DEVNULL)
    with open(path, 'rb') as handle:
        data = handle.read()
    cut = str(tmp_path / 'cut.qcow2')
    with open(cut, 'wb') as handle:
        handle.write(data[:len(data) // 2])
    with pytest.raises(ImageUnacceptable, match='corrupt or truncated'):
        _judge(cut)


def test_crafted_header_only(tmp_path, good_qcow2):
    path = str(tmp_path / 'short.qcow2')
    with open(good_qcow2, 'rb') as src, open(path, 'wb') as dst:
        dst.write(src.read(100))
    with pytest.raises(ImageUnacceptable, match='image is truncated'):
        _judge(path)


def test_crafted_too_big(good_qcow2):
    with pytest.raises(ImageUnacceptable, match="Flavor's disk is too small"):
        _judge(good_qcow2, max_size=64 * 1024 ** 2)


def test_raw_is_raw(tmp_path):
    path = str(tmp_path / 'disk.raw')
    with open(path, 'wb') as handle:
        handle.truncate(1024 ** 2)
    assert _judge(path) == {'format': 'raw', 'virtual_size': 1024 ** 2}
    assert os.path.getsize(path) == 1024 ** 2
