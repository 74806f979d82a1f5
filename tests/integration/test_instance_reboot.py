"""instance_reboot on the real libvirtd with the tiny guest: soft reboot
(ACPI honoured), soft reboot falling back to hard (guest ignores ACPI),
hard reboot repairing an undefined domain with its XML deleted, hard reboot
fetching a purged base image again, and refusals that change nothing."""

import json
import os
import shutil
import subprocess

import libvirt
from lxml import etree

MARKER_OFFSET = '512M'
MARKER = '0x5a'


def _args(name, instances_path, image_url, virt_type, network, **extra):
    args = {
        'name': name,
        'instances_path': instances_path,
        'virt_type': virt_type,
        'flavor': {'vcpus': 1, 'memory_mb': 128, 'swap_mb': 16},
        'image': {'url': image_url},
        'networks': [{'network': network}],
    }
    args.update(extra)
    return args


def _boot(run_module, console, args):
    result = run_module('libvirt_instance', args)
    assert result['changed'] and not result.get('failed'), result.get('msg')
    console(result['instance']['console_log'], 'GUEST-READY')
    return result['instance']


def _reboot(run_module, instances_path, name, **extra):
    return run_module('instance_reboot', dict({'name': name, 'instances_path': instances_path}, **extra))


def _record_bytes(instances_path, uuid):
    with open(os.path.join(instances_path, '_records', uuid + '.json'), 'rb') as handle:
        return handle.read()


def _actions(instances_path, uuid, action='reboot'):
    with open(os.path.join(instances_path, '_records', uuid + '.actions.jsonl')) as handle:
        return [json.loads(line) for line in handle if json.loads(line)['action'] == action]


def _identity(dom):
    """uuid, MACs and disk sources of a domain, from its XML."""
    tree = etree.fromstring(dom.XMLDesc(0).encode())
    return (dom.UUIDString(),
            tree.xpath('devices/interface/mac/@address'),
            tree.xpath('devices/disk/source/@file'))


def _dom_id(conn, uuid):
    """A fresh lookup: a virDomain object keeps the id it was looked up with."""
    return conn.lookupByUUIDString(uuid).ID()


def _qemu_io(disk, command, shared=False):
    argv = ['qemu-io', '-f', 'qcow2'] + (['-U', '-r'] if shared else []) + ['-c', command, disk]
    return subprocess.run(argv, capture_output=True, text=True, check=False)


def test_soft_reboot_honoured_by_the_guest(run_module, console, conn, prefix, instances_path, image_url,
                                           virt_type, network):
    name = prefix + '-s'
    inst = _boot(run_module, console, _args(name, instances_path, image_url, virt_type, network))
    before_check = _dom_id(conn, inst['uuid'])
    record_before = _record_bytes(instances_path, inst['uuid'])
    checked = run_module('instance_reboot', {'name': name, 'instances_path': instances_path}, check=True)
    assert checked['changed'] is True and checked['plan']['type'] == 'soft' and checked['plan']['method'] == 'soft'
    assert 'method' not in checked
    assert _dom_id(conn, inst['uuid']) == before_check, 'check mode must not reboot'
    assert _record_bytes(instances_path, inst['uuid']) == record_before

    result = _reboot(run_module, instances_path, name, soft_timeout=60)
    assert result['changed'] is True, result.get('msg')
    assert result['method'] == 'soft' and result['fallback'] is None
    assert result['plan']['task_states'] == ['rebooting', 'reboot_pending', 'reboot_started']
    assert result['domain_id']['before'] == before_check
    assert result['domain_id']['after'] == _dom_id(conn, inst['uuid']) != before_check
    log = console(inst['console_log'], 'GUEST-READY', count=2)
    assert log.count('GUEST-POWEROFF') == 1 and log.count('GUEST-BOOT') == 2
    inst = result['instance']
    assert (inst['vm_state'], inst['task_state'], inst['power_state']) == ('active', None, 'running')
    events = [a['event'] for a in _actions(instances_path, inst['uuid'])]
    assert events[-3:] == ['start', 'soft_reboot', 'finish']


def test_soft_reboot_falls_back_to_hard_when_acpi_is_ignored(run_module, console, conn, prefix,
                                                             instances_path, virt_type, network):
    name = prefix + '-n'
    url = 'file://' + os.environ['NOVALITE_TEST_IMAGE_NOACPI']
    inst = _boot(run_module, console, _args(name, instances_path, url, virt_type, network))
    old_id = _dom_id(conn, inst['uuid'])

    result = _reboot(run_module, instances_path, name, soft_timeout=3)
    assert result['changed'] is True, result.get('msg')
    assert result['method'] == 'soft'
    assert result['fallback'] == 'hard'
    assert 'did not shut down within 3s' in result['fallback_reason']
    assert result['domain_id']['after'] != old_id
    log = console(inst['console_log'], 'GUEST-READY', count=2)
    assert 'GUEST-POWEROFF' not in log    # the guest never acted on the button
    assert result['instance']['vm_state'] == 'active'
    events = _actions(instances_path, inst['uuid'])
    assert [e['event'] for e in events][-3:] == ['start', 'fallback', 'finish']


def test_hard_reboot_rebuilds_an_undefined_domain_and_keeps_guest_data(run_module, console, conn, prefix,
                                                                       instances_path, image_url, virt_type,
                                                                       network):
    name = prefix + '-h'
    args = _args(name, instances_path, image_url, virt_type, network,
                 flavor={'vcpus': 1, 'memory_mb': 128, 'root_gb': 1, 'swap_mb': 16})
    inst = _boot(run_module, console, args)
    dom = conn.lookupByUUIDString(inst['uuid'])
    identity = _identity(dom)
    root = os.path.join(inst['instance_dir'], 'disk')

    # behind our back: power off, write a marker into the root overlay,
    # undefine the domain and delete libvirt.xml
    dom.destroy()
    written = _qemu_io(root, 'write -P %s %s 64k' % (MARKER, MARKER_OFFSET))
    assert written.returncode == 0 and 'wrote 65536/65536' in written.stdout, written
    dom.undefine()
    os.unlink(inst['xml_path'])
    os.unlink(os.path.join(inst['instance_dir'], 'disk.swap'))

    preview = run_module('instance_reboot', {'name': name, 'instances_path': instances_path, 'type': 'soft'},
                         check=True)
    assert preview['plan']['method'] == 'hard' and 'not defined' in preview['plan']['reason']
    assert inst['uuid'] not in [d.UUIDString() for d in conn.listAllDomains(0)]

    result = _reboot(run_module, instances_path, name, type='hard')
    assert result['changed'] is True, result.get('msg')
    assert result['method'] == 'hard' and result['fallback'] is None
    assert result['plan']['task_states'] == ['rebooting_hard', 'reboot_pending_hard', 'reboot_started_hard']
    assert set(result['repaired']) == {'domain definition', 'libvirt.xml', 'disk.swap'}
    dom = conn.lookupByUUIDString(inst['uuid'])
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    assert _identity(dom) == identity          # same uuid, MAC and disk files
    assert os.path.exists(inst['xml_path'])
    log = console(inst['console_log'], 'GUEST-READY', count=2)
    assert 'GUEST-DISK vda %d' % 1024 ** 3 in log
    assert 'GUEST-DISK vdb %d' % (16 * 1024 ** 2) in log    # swap recreated
    checked = _qemu_io(root, 'read -P %s %s 64k' % (MARKER, MARKER_OFFSET), shared=True)
    assert checked.returncode == 0 and 'read 65536/65536' in checked.stdout, checked
    assert 'failed' not in checked.stdout + checked.stderr

    # a stopped instance: a hard reboot starts it
    stopped = run_module('libvirt_instance', dict(args, state='stopped', shutdown_timeout=30))
    assert stopped['instance']['vm_state'] == 'stopped'
    again = _reboot(run_module, instances_path, name, type='hard')
    assert again['changed'] and again['repaired'] == [] and again['domain_id']['before'] is None
    assert again['instance']['vm_state'] == 'active'
    console(inst['console_log'], 'GUEST-READY', count=3)


def test_hard_reboot_fetches_a_purged_base_image_again(run_module, console, conn, prefix, instances_path,
                                                       image_path, virt_type, network, http_server):
    name = prefix + '-b'
    shutil.copy(image_path, str(http_server.root / 'tiny.qcow2'))
    url = http_server.url + '/tiny.qcow2'
    inst = _boot(run_module, console, _args(name, instances_path, url, virt_type, network))
    assert http_server.counts['/tiny.qcow2'] == 1
    base_dir = os.path.join(instances_path, '_base')
    bases = [f for f in os.listdir(base_dir) if not f.endswith('.json') and not f.startswith('.')]   # .writers.lock
    assert len(bases) == 1
    os.unlink(os.path.join(base_dir, bases[0]))

    result = _reboot(run_module, instances_path, name, type='hard')
    assert result['changed'] is True, result.get('msg')
    assert result['repaired'] == ['base image']
    assert http_server.counts['/tiny.qcow2'] == 2
    assert os.path.exists(os.path.join(base_dir, bases[0]))
    console(inst['console_log'], 'GUEST-READY', count=2)
    assert conn.lookupByUUIDString(inst['uuid']).state()[0] == libvirt.VIR_DOMAIN_RUNNING


def test_refusals_leave_the_record_unchanged(run_module, conn, prefix, instances_path, image_url, virt_type,
                                             network):
    name = prefix + '-l'
    args = _args(name, instances_path, image_url, virt_type, network, state='stopped')
    built = run_module('libvirt_instance', dict(args, locked=True))
    assert built['changed'] and built['instance']['locked'] is True, built.get('msg')
    uuid = built['instance']['uuid']
    dom = conn.lookupByUUIDString(uuid)

    # locked: refused in check mode and for real, for both types
    before = _record_bytes(instances_path, uuid)
    for kind in ('soft', 'hard'):
        for check in (True, False):
            refused = run_module('instance_reboot', {'name': name, 'instances_path': instances_path, 'type': kind},
                                 check=check)
            assert refused.get('failed') and refused['error'] == 'InstanceLocked', refused
            assert 'instance %s (%s)' % (name, uuid) in refused['msg'] and 'locked' in refused['msg']
    assert _record_bytes(instances_path, uuid) == before
    assert dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
    # libvirt_instance refuses changes too, until unlocked
    start = run_module('libvirt_instance', dict(args, state='running'))
    assert start.get('failed') and start['error'] == 'InstanceLocked'
    assert _record_bytes(instances_path, uuid) == before
    unlocked = run_module('libvirt_instance', dict(args, locked=False), diff=True)
    assert unlocked['changed'] and unlocked['instance']['locked'] is False
    assert unlocked['diff']['before']['locked'] is True and unlocked['diff']['after']['locked'] is False

    # a resize in progress (as instance_migrate leaves it mid-flight)
    path = os.path.join(instances_path, '_records', uuid + '.json')
    with open(path) as handle:
        record = json.load(handle)
    record['task_state'] = 'resize_migrating'
    with open(path, 'w') as handle:
        json.dump(record, handle)
    before = _record_bytes(instances_path, uuid)
    for kind in ('soft', 'hard'):
        refused = _reboot(run_module, instances_path, name, type=kind)
        assert refused.get('failed') and refused['error'] == 'InstanceInvalidState', refused
        assert 'resize or migration is in progress' in refused['msg']
    assert _record_bytes(instances_path, uuid) == before
    assert dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF

    # unknown instance, and bad input
    missing = _reboot(run_module, instances_path, prefix + '-nope')
    assert missing.get('failed') and missing['error'] == 'InstanceNotFound'
    assert prefix + '-nope' in missing['msg']
    bad = run_module('instance_reboot', {'name': name, 'instances_path': instances_path, 'type': 'warm'})
    assert bad.get('failed') and 'warm' in bad['msg']
    neither = run_module('instance_reboot', {'instances_path': instances_path})
    assert neither.get('failed') and 'name' in neither['msg']
    assert _record_bytes(instances_path, uuid) == before

    # the resize is over: a soft reboot of the stopped instance starts it
    record['task_state'] = None
    with open(path, 'w') as handle:
        json.dump(record, handle)
    started = _reboot(run_module, instances_path, name)
    assert started['changed'] is True, started.get('msg')
    assert started['plan']['method'] == 'hard' and 'not running' in started['plan']['reason']
    assert started['plan']['task_states'] == ['rebooting', 'reboot_pending', 'reboot_started']
    assert started['instance']['vm_state'] == 'active'
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
