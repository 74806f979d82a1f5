"""state_reconcile on the real libvirtd: each row that can be staged is
staged as an interrupted operation or a change behind our back would leave
it (record written, domain destroyed or started with libvirt directly), then
one reconcile pass runs over all of them at once."""

import json
import os

import libvirt

from conftest import sha256_of


def _spawn(run_module, path, name, virt_type, image_url, state='running', flavor=None):
    result = run_module('libvirt_instance', {
        'name': name, 'state': state, 'instances_path': path, 'virt_type': virt_type,
        'image': {'url': image_url}, 'flavor': flavor or {'vcpus': 1, 'memory_mb': 96}})
    assert result['changed'] and not result.get('failed'), result.get('msg')
    return result['instance']


def _record_path(path, uuid):
    return os.path.join(path, '_records', uuid + '.json')


def _edit(path, uuid, **changes):
    with open(_record_path(path, uuid)) as handle:
        record = json.load(handle)
    record.update(changes)
    with open(_record_path(path, uuid), 'w') as handle:
        json.dump(record, handle)
    return record


def _record(path, uuid):
    with open(_record_path(path, uuid)) as handle:
        return json.load(handle)


def _state(conn, uuid):
    try:
        return conn.lookupByUUIDString(uuid).state()[0]
    except libvirt.libvirtError:
        return None


def _actions(result, uuid):
    return [a['action'] for e in result['plan'] if e['uuid'] == uuid for a in e['actions']]


def test_recovery_of_interrupted_operations(run_module, console, conn, prefix, instances_path, image_url,
                                            virt_type):
    path = instances_path

    def make(name, **kw):
        return _spawn(run_module, path, prefix + '-' + name, virt_type, image_url, **kw)

    building = make('build', state='stopped')
    rebooting = make('rboot')
    started = make('rstart')
    stopping = make('poff')
    deleting = make('del')
    moving = make('mig')
    elsewhere = make('other', state='stopped')
    broken = make('broken', state='stopped')
    for inst in (rebooting, stopping, moving):
        console(inst['console_log'], 'GUEST-READY')

    # interrupted spawn: the build never finished
    conn.lookupByUUIDString(building['uuid']).undefine()
    _edit(path, building['uuid'], vm_state='building', task_state='spawning', launched_at=None)
    # soft reboot that got as far as powering off
    conn.lookupByUUIDString(rebooting['uuid']).destroy()
    _edit(path, rebooting['uuid'], task_state='reboot_started')
    disk_before = sha256_of(os.path.join(rebooting['instance_dir'], 'disk'))
    # hard reboot that finished but was not recorded
    _edit(path, started['uuid'], task_state='reboot_started_hard')
    # power-off interrupted
    _edit(path, stopping['uuid'], task_state='powering-off')
    # deletion interrupted
    _edit(path, deleting['uuid'], task_state='deleting')
    # migration cut short while copying: powered off, renamed, resize_migrating
    conn.lookupByUUIDString(moving['uuid']).destroy()
    os.rename(moving['instance_dir'], moving['instance_dir'] + '_resize')
    moving_disk = os.path.join(moving['instance_dir'] + '_resize', 'disk')
    moving_sha = sha256_of(moving_disk)
    _edit(path, moving['uuid'], task_state='resize_migrating', old_flavor={'vcpus': 1, 'memory_mb': 96},
          new_flavor={'vcpus': 2, 'memory_mb': 192}, system_metadata={'old_vm_state': 'active'},
          migration={'id': '00000000-0000-4000-8000-000000000001', 'status': 'migrating'})
    # a domain left here of an instance another host owns now
    _edit(path, elsewhere['uuid'], host='hv-other')
    # a migration that cannot be rolled back: its disks are gone
    conn.lookupByUUIDString(broken['uuid']).undefine()
    os.rename(broken['instance_dir'], broken['instance_dir'] + '-lost')
    _edit(path, broken['uuid'], task_state='resize_migrating', system_metadata={'old_vm_state': 'stopped'})

    args = {'instances_path': path, 'mode': 'recover', 'shutdown_timeout': 30}
    records_before = dict((i['uuid'], open(_record_path(path, i['uuid']), 'rb').read())
                          for i in (building, rebooting, started, stopping, deleting, moving, elsewhere, broken))
    preview = run_module('state_reconcile', args, check=True)
    assert preview.get('changed') is True and preview['results'] == [], preview.get('msg')
    assert _actions(preview, building['uuid']) == ['set_error']
    assert _actions(preview, rebooting['uuid']) == ['reboot']
    assert [a for e in preview['plan'] if e['uuid'] == rebooting['uuid'] for a in e['actions']][0]['type'] == 'hard'
    assert _actions(preview, started['uuid']) == ['clear_task_state']
    assert _actions(preview, stopping['uuid']) == ['stop']
    assert _actions(preview, deleting['uuid']) == ['finish_deletion']
    assert _actions(preview, moving['uuid']) == ['revert_migration']
    assert _actions(preview, elsewhere['uuid']) == ['destroy_domain']
    for uuid, data in records_before.items():
        assert open(_record_path(path, uuid), 'rb').read() == data, 'check mode changed %s' % uuid
    assert _state(conn, stopping['uuid']) == libvirt.VIR_DOMAIN_RUNNING

    result = run_module('state_reconcile', args)
    assert result['changed'] is True and not result.get('failed'), result.get('msg')
    assert result['errors'] == 1
    failed = [r for r in result['results'] if 'error' in r]
    assert [r['uuid'] for r in failed] == [broken['uuid']]
    assert 'root disk' in failed[0]['error']

    assert _record(path, building['uuid'])['vm_state'] == 'error'
    assert _state(conn, rebooting['uuid']) == libvirt.VIR_DOMAIN_RUNNING
    rec = _record(path, rebooting['uuid'])
    assert (rec['vm_state'], rec['task_state'], rec['power_state']) == ('active', None, 'running')
    assert sha256_of(os.path.join(rebooting['instance_dir'], 'disk')) == disk_before
    console(rebooting['console_log'], 'GUEST-READY', count=2)
    rec = _record(path, started['uuid'])
    assert (rec['vm_state'], rec['task_state']) == ('active', None)
    assert _state(conn, stopping['uuid']) == libvirt.VIR_DOMAIN_SHUTOFF
    assert _record(path, stopping['uuid'])['vm_state'] == 'stopped'
    assert _state(conn, deleting['uuid']) is None and not os.path.exists(deleting['instance_dir'])
    assert _record(path, deleting['uuid'])['vm_state'] == 'deleted'
    assert _state(conn, moving['uuid']) == libvirt.VIR_DOMAIN_RUNNING
    assert not os.path.exists(moving['instance_dir'] + '_resize')
    assert sha256_of(os.path.join(moving['instance_dir'], 'disk')) == moving_sha
    rec = _record(path, moving['uuid'])
    assert (rec['vm_state'], rec['task_state'], rec['flavor']['memory_mb']) == ('active', None, 96)
    assert conn.lookupByUUIDString(moving['uuid']).maxMemory() == 96 * 1024
    assert _state(conn, elsewhere['uuid']) is None
    assert os.path.exists(os.path.join(elsewhere['instance_dir'], 'disk'))          # disks kept
    actions = [json.loads(line) for line in open(os.path.join(path, '_records', rebooting['uuid'] + '.actions.jsonl'))]
    assert ('reconcile', 'reboot') in [(a['action'], a['event']) for a in actions]

    # a second pass over the others finds nothing to do; fail_on_error reports the broken one
    others = [i['name'] for i in (building, rebooting, started, stopping, deleting, moving, elsewhere)]
    again = run_module('state_reconcile', dict(args, instances=others, mode='both'))
    assert again['changed'] is False and again['errors'] == 0, [e for e in again['plan'] if e['actions']]
    strict = run_module('state_reconcile', dict(args, instances=[broken['name']], fail_on_error=True))
    assert strict.get('failed') and '1 instance(s)' in strict['msg']


def test_power_state_sync(run_module, console, conn, prefix, instances_path, image_url, virt_type):
    path = instances_path

    def make(name, **kw):
        return _spawn(run_module, path, prefix + '-' + name, virt_type, image_url, **kw)

    crashed = make('gone')
    woken = make('woke', state='stopped')
    resumed = make('resume')
    owned = make('owned', state='stopped')
    conn.lookupByUUIDString(crashed['uuid']).destroy()          # behind our back
    conn.lookupByUUIDString(woken['uuid']).create()             # behind our back
    conn.lookupByUUIDString(resumed['uuid']).destroy()
    sha = sha256_of(os.path.join(crashed['instance_dir'], 'disk'))

    result = run_module('state_reconcile', {'instances_path': path, 'mode': 'sync',
                                            'instances': [crashed['name'], woken['name']]})
    assert result['changed'] and result['errors'] == 0, result
    rec = _record(path, crashed['uuid'])
    assert (rec['vm_state'], rec['power_state']) == ('stopped', 'shutdown')
    assert _state(conn, crashed['uuid']) == libvirt.VIR_DOMAIN_SHUTOFF
    assert sha256_of(os.path.join(crashed['instance_dir'], 'disk')) == sha
    assert _state(conn, woken['uuid']) == libvirt.VIR_DOMAIN_SHUTOFF
    assert _record(path, woken['uuid'])['vm_state'] == 'stopped'

    # with resume_guests_state_on_host_boot the guest is started, its record intent unchanged
    back = run_module('state_reconcile', {'instances_path': path, 'mode': 'recover',
                                          'resume_guests_state_on_host_boot': True, 'instances': [resumed['uuid']]})
    assert back['changed'] and back['errors'] == 0, back
    assert _state(conn, resumed['uuid']) == libvirt.VIR_DOMAIN_RUNNING
    rec = _record(path, resumed['uuid'])
    assert (rec['vm_state'], rec['task_state'], rec['power_state']) == ('active', None, 'running')
    console(resumed['console_log'], 'GUEST-READY')     # destroyed before its first boot got that far

    # ownership decided elsewhere (the playbook's owners map) wins over the local record
    conn.lookupByUUIDString(owned['uuid']).create()
    taken = run_module('state_reconcile', {'instances_path': path, 'owners': {owned['uuid']: 'hv-other'},
                                           'instances': [owned['name']]})
    assert [a['action'] for a in taken['results'][0]['done']] == ['destroy_domain'], taken
    assert _state(conn, owned['uuid']) is None
    assert os.path.exists(os.path.join(owned['instance_dir'], 'disk'))
