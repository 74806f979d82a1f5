"""libvirt_instance end to end on the real libvirtd with the tiny guest:
check mode -> build -> second run unchanged -> check mode again -> diff of a
flavor change -> stop (ACPI) -> start -> delete -> delete again."""

import json
import os

import libvirt


def _args(name, instances_path, image_url, virt_type, network, **extra):
    args = {
        'name': name,
        'instances_path': instances_path,
        'virt_type': virt_type,
        'flavor': {'vcpus': 1, 'memory_mb': 128, 'swap_mb': 32},
        'image': {'url': image_url},
        'networks': [{'network': network}],
        'metadata': {'role': 'test'},
        'shutdown_timeout': 60,
    }
    args.update(extra)
    return args


def test_lifecycle(run_module, console, conn, prefix, instances_path, image_url, virt_type, network):
    name = prefix + '-a'
    args = _args(name, instances_path, image_url, virt_type, network)

    # check mode on a new instance: reports the spawn, creates nothing
    result = run_module('libvirt_instance', args, check=True)
    assert result['changed'] is True, result
    assert result['plan'] == [{'step': 'spawn', 'power_on': True}]
    assert not os.path.exists(os.path.join(instances_path, '_records'))
    assert name not in [d.name() for d in conn.listAllDomains(0)]

    # build: the guest boots and reads its uuid from the config drive
    result = run_module('libvirt_instance', args)
    assert result['changed'] is True, result.get('msg')
    inst = result['instance']
    uuid = inst['uuid']
    assert (inst['vm_state'], inst['task_state'], inst['power_state']) == ('active', None, 'running')
    log = console(inst['console_log'], 'GUEST-READY')
    assert 'GUEST-INSTANCE-UUID=%s' % uuid in log
    assert 'GUEST-DISK vdb %d' % (32 * 1024 * 1024) in log  # swap disk
    dom = conn.lookupByUUIDString(uuid)
    assert dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING
    assert os.path.exists(inst['xml_path'])
    with open(os.path.join(instances_path, '_records', uuid + '.json')) as handle:
        record = json.load(handle)
    assert record['vm_state'] == 'active' and record['power_state'] == 'running'
    actions = _actions(instances_path, uuid)
    assert [a['event'] for a in actions if a['action'] == 'create'][0] == 'start'
    assert actions[-1]['event'] == 'finish'

    # second identical run and check mode: no change
    again = run_module('libvirt_instance', args)
    assert again['changed'] is False and again['plan'] == []
    assert run_module('libvirt_instance', args, check=True)['changed'] is False

    # diff mode shows a flavor change (check mode: nothing is changed)
    bigger = dict(args, flavor={'vcpus': 2, 'memory_mb': 192, 'swap_mb': 32})
    preview = run_module('libvirt_instance', bigger, check=True, diff=True)
    assert preview['changed'] is True
    assert preview['diff']['before']['flavor']['vcpus'] == 1
    assert preview['diff']['after']['flavor']['vcpus'] == 2
    assert preview['diff']['after']['flavor']['memory_mb'] == 192
    assert [s['step'] for s in preview['plan']] == ['stop', 'resize', 'start']
    assert conn.lookupByUUIDString(uuid).maxMemory() == 128 * 1024

    # stopped: clean ACPI power-off within the timeout
    stopped = run_module('libvirt_instance', dict(args, state='stopped'))
    assert stopped['changed'] is True and stopped['shutdown'] == 'acpi', stopped
    assert conn.lookupByUUIDString(uuid).state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
    assert 'GUEST-POWEROFF' in console(inst['console_log'], 'GUEST-POWEROFF')
    assert stopped['instance']['vm_state'] == 'stopped'
    assert run_module('libvirt_instance', dict(args, state='stopped'))['changed'] is False

    # running: boots again
    started = run_module('libvirt_instance', args)
    assert started['changed'] is True and started['instance']['vm_state'] == 'active'
    console(inst['console_log'], 'GUEST-READY', count=2)

    # absent: domain, instance dir gone; base image kept; record deleted
    base_files = os.listdir(os.path.join(instances_path, '_base'))
    gone = run_module('libvirt_instance', {'name': name, 'state': 'absent', 'instances_path': instances_path})
    assert gone['changed'] is True and gone['instance']['vm_state'] == 'deleted'
    assert uuid not in [d.UUIDString() for d in conn.listAllDomains(0)]
    assert not os.path.exists(os.path.join(instances_path, uuid))
    assert os.listdir(os.path.join(instances_path, '_base')) == base_files
    assert any(not f.endswith('.json') for f in base_files)
    assert run_module('libvirt_instance', {'name': name, 'state': 'absent',
                                           'instances_path': instances_path})['changed'] is False


def test_stopped_build_and_inplace_resize(run_module, console, conn, prefix, instances_path, image_url,
                                          virt_type, network):
    """state=stopped builds without booting; a flavor change grows disks and
    the guest sees the new vcpus/memory/disk sizes; shrinking is refused."""
    name = prefix + '-r'
    args = _args(name, instances_path, image_url, virt_type, network, state='stopped')
    built = run_module('libvirt_instance', args)
    assert built['changed'] and built['instance']['vm_state'] == 'stopped'
    uuid = built['instance']['uuid']
    assert conn.lookupByUUIDString(uuid).state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
    assert not os.path.exists(built['instance']['console_log'])

    grown = dict(args, state='running',
                 flavor={'vcpus': 2, 'memory_mb': 192, 'root_gb': 1, 'ephemeral_gb': 1, 'swap_mb': 64})
    result = run_module('libvirt_instance', grown)
    assert [s['step'] for s in result['plan']] == ['resize', 'start'], result
    log = console(result['instance']['console_log'], 'GUEST-READY')
    assert 'GUEST-CPUS 2' in log
    assert 'GUEST-DISK vda %d' % (1024 ** 3) in log
    assert 'GUEST-DISK vdb %d' % (1024 ** 3) in log          # new ephemeral disk
    assert 'GUEST-DISK vdc %d' % (64 * 1024 ** 2) in log     # swap recreated
    assert conn.lookupByUUIDString(uuid).maxMemory() == 192 * 1024

    shrink = dict(grown, flavor={'vcpus': 2, 'memory_mb': 192, 'root_gb': 1, 'ephemeral_gb': 0, 'swap_mb': 64})
    refused = run_module('libvirt_instance', shrink)
    assert refused.get('failed') and 'Unable to resize disk down' in refused['msg']
    assert name in refused['msg']
    with open(os.path.join(instances_path, '_records', uuid + '.json')) as handle:
        assert json.load(handle)['flavor']['ephemeral_gb'] == 1


def _actions(instances_path, uuid):
    with open(os.path.join(instances_path, '_records', uuid + '.actions.jsonl')) as handle:
        return [json.loads(line) for line in handle if line.strip()]
