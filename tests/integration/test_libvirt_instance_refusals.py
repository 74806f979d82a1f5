"""Bad input gets a clear error naming the instance and the step, and nothing
is left behind: no domain, no instance directory, no partial cache files."""

import json
import os
import shutil
import subprocess

import pytest

GiB = 1024 ** 3


def _craft(kind, workdir, good_image):
    """Make a bad image of ``kind`` in ``workdir``; return its path."""
    path = os.path.join(workdir, kind + '.img')
    if kind == 'truncated':
        size = os.path.getsize(good_image)
        with open(good_image, 'rb') as src, open(path, 'wb') as dst:
            dst.write(src.read(size // 2))
    elif kind == 'backing_file':
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', '/etc/passwd', path, '1M'],
                       check=True)
    elif kind == 'data_file':
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-o',
                        'data_file=%s' % os.path.join(workdir, 'external.raw'), path, '1M'], check=True)
    elif kind == 'too_big':
        subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', path, str(2 * GiB)], check=True)
    elif kind == 'header_only':
        with open(good_image, 'rb') as src, open(path, 'wb') as dst:
            dst.write(src.read(100))
    return path


@pytest.mark.parametrize('kind, extra, message, step', [
    ('good', {'checksum': 'sha256:' + '0' * 64}, 'checksum mismatch', 'fetch image'),
    ('unreachable', {}, 'could not download', 'fetch image'),
    ('truncated', {}, 'corrupt or truncated', 'fetch image'),
    ('header_only', {}, 'image is truncated', 'fetch image'),
    ('good', {'format': 'raw'}, 'declared as raw but its content is qcow2', 'fetch image'),
    ('backing_file', {}, 'backing file /etc/passwd', 'fetch image'),
    ('data_file', {}, 'external data file', 'fetch image'),
    ('too_big', {}, "Flavor's disk is too small", 'fetch image'),
])
def test_image_refused(kind, extra, message, step, run_module, conn, prefix, instances_path, image_path,
                       tmp_path, virt_type):
    if kind == 'good':
        url = 'file://' + image_path
    elif kind == 'unreachable':
        url = 'http://127.0.0.1:9/nothing.qcow2'
    else:
        url = 'file://' + _craft(kind, str(tmp_path), image_path)
    name = prefix + '-bad'
    image = {'url': url}
    image.update(extra)
    result = run_module('libvirt_instance', {
        'name': name, 'instances_path': instances_path, 'virt_type': virt_type,
        'flavor': {'vcpus': 1, 'memory_mb': 128, 'root_gb': 1}, 'image': image})
    assert result.get('failed'), result
    assert message in result['msg'], result['msg']
    assert 'instance %s' % name in result['msg'] and result['step'] == step

    # nothing left behind
    assert name not in [d.name() for d in conn.listAllDomains(0)]
    records = os.path.join(instances_path, '_records')
    uuids = [f[:-5] for f in os.listdir(records) if f.endswith('.json')]
    assert len(uuids) == 1
    assert not os.path.exists(os.path.join(instances_path, uuids[0]))
    base = os.path.join(instances_path, '_base')
    assert [f for f in os.listdir(base) if f.endswith(('.part', '.converted'))] == []
    if kind != 'good':
        assert os.listdir(base) == []
    # the record tells the operator what happened
    with open(os.path.join(records, uuids[0] + '.json')) as handle:
        record = json.load(handle)
    assert record['vm_state'] == 'error' and record['task_state'] is None
    assert message in record['fault']['message'] and record['fault']['step'] == step


@pytest.mark.parametrize('name, flavor, message', [
    ('bad/name', {'vcpus': 1, 'memory_mb': 128}, "must not contain '/' or '..'"),
    ('bad..name', {'vcpus': 1, 'memory_mb': 128}, "must not contain '/' or '..'"),
    ('zero-memory', {'vcpus': 1, 'memory_mb': 0}, 'memory_mb must be at least 1'),
    ('zero-cpu', {'vcpus': 0, 'memory_mb': 128}, 'vcpus must be at least 1'),
])
def test_invalid_input_refused(name, flavor, message, run_module, conn, instances_path, image_url, virt_type):
    result = run_module('libvirt_instance', {
        'name': name, 'instances_path': instances_path, 'virt_type': virt_type,
        'flavor': flavor, 'image': {'url': image_url}})
    assert result.get('failed') and message in result['msg'], result
    assert result['error'] == 'InvalidInput'
    # refused before anything was written
    assert os.listdir(instances_path) == []
    assert name not in [d.name() for d in conn.listAllDomains(0)]


def test_xml_metacharacters_are_escaped(run_module, conn, instances_path, image_url, virt_type):
    """A legal name and metadata full of XML metacharacters round-trip exactly."""
    name = os.path.basename(instances_path) + '-meta<&>"\''
    metadata = {'k<&>': 'v"\'<tag attr="x">&amp;</tag>'}
    result = run_module('libvirt_instance', {
        'name': name, 'state': 'stopped', 'instances_path': instances_path, 'virt_type': virt_type,
        'flavor': {'vcpus': 1, 'memory_mb': 128}, 'image': {'url': image_url}, 'metadata': metadata})
    assert result['changed'], result.get('msg')
    dom = conn.lookupByUUIDString(result['instance']['uuid'])
    assert dom.name() == name
    from lxml import etree
    root = etree.fromstring(dom.XMLDesc(0).encode())
    ns = {'nl': 'https://novalite.dev/xmlns/compute/1.0'}
    items = root.findall('./metadata/nl:instance/nl:metadata/nl:meta', ns)
    assert {i.get('key'): i.text for i in items} == metadata
    assert root.find('./metadata/nl:instance/nl:name', ns).text == name
    assert run_module('libvirt_instance', {'name': name, 'state': 'absent',
                                           'instances_path': instances_path})['changed']
    shutil.rmtree(os.path.join(instances_path, '_base'))


def _tree(path):
    """Every file and directory under ``path``, relative to it."""
    found = set()
    for root, dirs, files in os.walk(path):
        found.update(os.path.relpath(os.path.join(root, entry), path) for entry in dirs + files)
    return found


def test_strings_xml_cannot_hold_are_refused_before_anything_is_written(
        run_module, conn, prefix, instances_path, image_url, virt_type):
    """A metadata value with a BEL and a name with U+FFFE are refused as
    input: no record, no instance directory, no domain, nothing in _base but
    the complete image an earlier instance left there."""
    args = {'instances_path': instances_path, 'virt_type': virt_type, 'state': 'stopped',
            'flavor': {'vcpus': 1, 'memory_mb': 128}, 'image': {'url': image_url}}
    good = run_module('libvirt_instance', dict(args, name=prefix + '-good', metadata={'role': 'web'}))
    assert good['changed'], good.get('msg')
    before = _tree(instances_path)
    domains = sorted(d.name() for d in conn.listAllDomains(0) if d.name().startswith(prefix))   # not a parallel test's
    try:
        for name, metadata, char in ((prefix + '-bell', {'role': 'ring\x07'}, 'U+0007'),
                                     (prefix + '-\ufffe', {'role': 'web'}, 'U+FFFE')):
            result = run_module('libvirt_instance', dict(args, name=name, metadata=metadata, state='running'))
            assert result.get('failed'), result
            assert result['error'] == 'InvalidInput' and result['step'] == 'validate input', result
            assert '%s, which XML cannot hold' % char in result['msg'], result['msg']

            assert _tree(instances_path) == before       # no record, no directory, no lock, no cache file
            assert sorted(d.name() for d in conn.listAllDomains(0) if d.name().startswith(prefix)) == domains
            records = [f for f in os.listdir(os.path.join(instances_path, '_records')) if f.endswith('.json')]
            assert records == [good['instance']['uuid'] + '.json']
            base = os.listdir(os.path.join(instances_path, '_base'))
            images = [f for f in base if not f.endswith('.json') and not f.startswith('.')]     # .writers.lock
            assert images and all(image + '.json' in base for image in images), base   # complete ones only
    finally:
        assert run_module('libvirt_instance', {'name': prefix + '-good', 'state': 'absent',
                                               'instances_path': instances_path})['changed']
