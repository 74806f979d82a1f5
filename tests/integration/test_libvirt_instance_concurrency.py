"""Two spawns of the same new image at once: the image is downloaded once
(HTTP request count and the action logs agree), and both guests boot."""

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
