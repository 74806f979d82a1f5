"""Two spawns of the same new image at once: the image is downloaded once
(HTTP request count and the action logs agree), and both guests boot.
Two spawns of the same new name at once: one instance."""

import json
import os
import shutil

from conftest import sha256_of


def test_two_spawns_fetch_once(run_module, console, http_server, prefix, instances_path, image_path,
                               virt_type, network):
    shutil.copy(image_path, str(http_server.root / 'shared.qcow2'))
    image = {'url': http_server.url + '/shared.qcow2',
             'checksum': 'sha256:' + sha256_of(image_path), 'format': 'qcow2'}
    runs = [run_module.start('libvirt_instance', {
        'name': '%s-%d' % (prefix, n), 'instances_path': instances_path, 'virt_type': virt_type,
        'flavor': {'vcpus': 1, 'memory_mb': 128}, 'image': image,
        'networks': [{'network': network}]}) for n in (1, 2)]
    results = [r.wait_result() for r in runs]
    for result in results:
        assert result['changed'] and result['instance']['vm_state'] == 'active', result.get('msg')
        log = console(result['instance']['console_log'], 'GUEST-READY')
        assert 'GUEST-INSTANCE-UUID=%s' % result['instance']['uuid'] in log

    assert http_server.counts == {'/shared.qcow2': 1}
    cache_events = []
    for result in results:
        path = os.path.join(instances_path, '_records', result['instance']['uuid'] + '.actions.jsonl')
        with open(path) as handle:
            cache_events += [json.loads(l)['result'] for l in handle if '"image_cache"' in l]
    assert sorted(cache_events) == ['hit', 'miss']
    for result in results:
        assert run_module('libvirt_instance', {'name': result['instance']['name'], 'state': 'absent',
                                               'instances_path': instances_path})['changed']


def _live_records_named(instances_path, name):
    records_dir = os.path.join(instances_path, '_records')
    found = []
    for entry in os.listdir(records_dir):
        if entry.endswith('.json') and not entry.startswith('.'):
            with open(os.path.join(records_dir, entry)) as handle:
                record = json.load(handle)
            if record['name'] == name and record['vm_state'] != 'deleted':
                found.append(record)
    return found


def test_two_spawns_of_one_new_name_make_one_instance(run_module, console, conn, http_server, prefix, instances_path,
                                                      image_path, virt_type, network):
    """Both runs of the same new name start together while the image is still
    to be downloaded over HTTP: one builds the instance, the other waits for
    it and finds it (no change); never two records or a refused run."""
    shutil.copy(image_path, str(http_server.root / 'twin.qcow2'))
    name = prefix + '-twin'
    args = {'name': name, 'instances_path': instances_path, 'virt_type': virt_type,
            'flavor': {'vcpus': 1, 'memory_mb': 128},
            'image': {'url': http_server.url + '/twin.qcow2', 'checksum': 'sha256:' + sha256_of(image_path),
                      'format': 'qcow2'},
            'networks': [{'network': network}]}
    runs = [run_module.start('libvirt_instance', args) for _n in (1, 2)]
    results = [run.wait_result() for run in runs]
    try:
        for result in results:
            assert not result.get('failed'), result.get('msg')
            assert result['instance']['vm_state'] == 'active', result['instance']
        assert sorted(result['changed'] for result in results) == [False, True]
        assert results[0]['instance']['uuid'] == results[1]['instance']['uuid']

        records = _live_records_named(instances_path, name)
        assert [record['uuid'] for record in records] == [results[0]['instance']['uuid']]
        assert [d.UUIDString() for d in conn.listAllDomains(0) if d.name() == name] == [records[0]['uuid']]
        assert http_server.counts == {'/twin.qcow2': 1}
        log = console(results[0]['instance']['console_log'], 'GUEST-READY')
        assert 'GUEST-INSTANCE-UUID=%s' % records[0]['uuid'] in log
    finally:
        assert run_module('libvirt_instance', {'name': name, 'state': 'absent',
                                               'instances_path': instances_path})['changed']


def test_spawn_under_async_poll_reports_fetch_progress(run_module, prefix, instances_path, image_path,
                                                       virt_type, http_server):
    """A long build run with Ansible's async/poll finishes and the action log
    shows the download's progress (bytes done / total)."""
    shutil.copy(image_path, str(http_server.root / 'async.qcow2'))
    size = os.path.getsize(image_path)
    result = run_module('libvirt_instance', {
        'name': prefix + '-async', 'instances_path': instances_path, 'virt_type': virt_type,
        'flavor': {'vcpus': 1, 'memory_mb': 96}, 'image': {'url': http_server.url + '/async.qcow2'}},
        background=(300, 1))
    assert result.get('changed') and not result.get('failed'), result.get('msg')
    assert result['instance']['vm_state'] == 'active'
    uuid = result['instance']['uuid']
    with open(os.path.join(instances_path, '_records', uuid + '.actions.jsonl')) as handle:
        events = [json.loads(line) for line in handle]
    progress = [e for e in events if e['event'] == 'fetch_progress']
    assert progress and progress[-1]['bytes_done'] == progress[-1]['bytes_total'] == size
