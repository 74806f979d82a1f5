"""playbooks/rolling_reboot.yml with ansible-playbook: instances are
inventory hosts delegated to their hypervisor (localhost here), rebooted one
batch at a time; a failure stops the run under max_fail_percentage 0."""

import os
import subprocess

PLAYBOOK = os.path.join(os.path.dirname(__file__), '..', '..', 'playbooks', 'rolling_reboot.yml')


def _boot(run_module, console, name, instances_path, image_url, virt_type):
    result = run_module('libvirt_instance', {
        'name': name, 'instances_path': instances_path, 'virt_type': virt_type,
        'flavor': {'vcpus': 1, 'memory_mb': 128}, 'image': {'url': image_url}})
    assert result['changed'] and not result.get('failed'), result.get('msg')
    console(result['instance']['console_log'], 'GUEST-READY')
    return result['instance']


def _playbook(tmp_path, names, instances_path, *extra):
    inventory = tmp_path / 'inventory.ini'
    inventory.write_text(
        '[hypervisors]\nhv1 ansible_connection=local ansible_python_interpreter=%s\n\n[novalite_instances]\n%s\n'
        % (os.environ['ANSIBLE_PYTHON_INTERPRETER'],
           '\n'.join('%s novalite_hypervisor=hv1 novalite_instances_path=%s' % (n, instances_path) for n in names)))
    cmd = ['ansible-playbook', '-i', str(inventory), PLAYBOOK] + list(extra)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False,
                          env=dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_FORCE_COLOR='0'))


def test_rolling_reboot(run_module, console, conn, prefix, instances_path, image_url, virt_type, tmp_path):
    names = [prefix + '-a', prefix + '-b']
    insts = [_boot(run_module, console, n, instances_path, image_url, virt_type) for n in names]
    ids = [conn.lookupByUUIDString(i['uuid']).ID() for i in insts]

    done = _playbook(tmp_path, names, instances_path, '-e', 'reboot_serial=1', '-e', 'reboot_soft_timeout=60')
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    for inst, old in zip(insts, ids):
        assert conn.lookupByUUIDString(inst['uuid']).ID() != old
        log = console(inst['console_log'], 'GUEST-READY', count=2)
        assert 'GUEST-POWEROFF' in log
    for name in names:
        assert '%s: soft reboot, vm_state active' % name in done.stdout, done.stdout[-3000:]
    # one batch per instance
    assert done.stdout.count('PLAY [Rolling reboot] ') == 2

    # the first instance is locked: it fails, the run stops, the second is untouched
    locked = run_module('libvirt_instance', {'name': names[0], 'instances_path': instances_path, 'locked': True})
    assert locked['changed'], locked.get('msg')
    second_id = conn.lookupByUUIDString(insts[1]['uuid']).ID()
    stopped = _playbook(tmp_path, names, instances_path, '-e', 'reboot_max_fail_percentage=0',
                        '-e', 'reboot_type=hard')
    assert stopped.returncode != 0
    assert 'FAILED InstanceLocked' in stopped.stdout, stopped.stdout[-3000:]
    assert conn.lookupByUUIDString(insts[1]['uuid']).ID() == second_id
    assert 'PLAY [Rolling reboot summary]' not in stopped.stdout
