"""A real Debian 12 cloud guest through the whole lifecycle (issue 13).

Two guests are spawned together on host A by the instance role, from the
image served over HTTP with its sha256:

* ``e2e-cloud``: a NIC with a fixed MAC on an isolated network with DHCP,
  the guest agent channel; it is spawned, pinged through its agent,
  soft-rebooted, and finally loses its host's power;
* ``e2e-mover``: the guest agent channel too (it must survive every move);
  moved A->B and reverted, then resized A->B to a larger root disk and
  confirmed.

The tests run in file order and share the guests: each one starts where the
previous one left its guest. The guest is observed only through its serial
console, libvirt, the network's DHCP leases and the guest agent.
"""

import json
import os

import libvirt_qemu
import pytest

import harness
from cloud_guest import DEFAULT_USER, USER_DATA, boot_report, fingerprint, mark, new_key

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SPAWN = os.path.join(HERE, 'playbooks', 'spawn.yml')
RESIZE = os.path.join(ROOT, 'playbooks', 'resize.yml')
RECONCILE = os.path.join(ROOT, 'playbooks', 'reconcile.yml')
MAC = '52:54:00:e2:e0:01'
GiB = 1024 ** 3
FLAVOR = {'vcpus': 1, 'memory_mb': 512, 'root_gb': 2}


def agent(dom, command, arguments=None, timeout=30):
    """One QEMU guest agent command through libvirt; returns its 'return'."""
    request = {'execute': command}
    if arguments is not None:
        request['arguments'] = arguments
    return json.loads(libvirt_qemu.qemuAgentCommand(dom, json.dumps(request), timeout, 0))['return']


@pytest.fixture(scope='module')
def guests(fleet, image_server, e2e_network, tmp_path_factory):
    keys_dir = tmp_path_factory.mktemp('keys')
    key_files = [str(keys_dir / name) for name in ('operator', 'backup')]
    keys = [new_key(path) for path in key_files]
    image = {'url': image_server.image_url, 'checksum': image_server.checksum}
    common = {'flavor': FLAVOR, 'image': image, 'key_data': keys, 'user_data': USER_DATA}
    instance_list = [
        dict(common, name='e2e-cloud', guest_agent=True, networks=[{'network': e2e_network, 'mac': MAC}]),
        dict(common, name='e2e-mover', guest_agent=True),
    ]
    done = fleet.playbook(SPAWN, {'instance_list': instance_list,
                                  'instance_defaults': {'virt_type': os.environ['NOVALITE_VIRT_TYPE']}})
    assert done.returncode == 0, done.stdout[-6000:]
    found = {}
    for name in ('e2e-cloud', 'e2e-mover'):
        records = [r for r in (fleet.a.json('_records', f) for f in os.listdir(os.path.join(fleet.a.path, '_records'))
                               if f.endswith('.json')) if r and r['name'] == name]
        assert len(records) == 1, (name, records)
        found[name] = records[0]['uuid']
    return {'uuids': found, 'fingerprints': [fingerprint(path + '.pub') for path in key_files],
            'consoles': dict((name, fleet.console(uuid)) for name, uuid in found.items())}


def test_spawn_boots_cloud_init_to_final_from_the_config_drive(fleet, guests, e2e_network):
    uuid = guests['uuids']['e2e-cloud']
    report = boot_report(guests['consoles']['e2e-cloud'], 'hostA')
    text = report['text']
    assert report['datasource'].startswith('DataSourceConfigDrive'), report['datasource']
    assert report['instance_id'] == uuid
    assert report['hostname'] == 'e2e-cloud'
    assert 'E2E-RUNCMD' in text
    key_lines = [line for line in text.splitlines() if line.startswith('E2E-KEY ')]
    for expected in guests['fingerprints']:
        assert any(expected in line for line in key_lines), (expected, key_lines)
    assert len(key_lines) == 2, key_lines
    assert 'Authorized keys from /home/%s/.ssh/authorized_keys' % DEFAULT_USER in text
    conn = fleet.a.connect()
    try:
        leases = conn.networkLookupByName(e2e_network).DHCPLeases()
    finally:
        conn.close()
    mine = [lease for lease in leases if lease['mac'] == MAC]
    assert mine and mine[0]['ipaddr'].startswith('192.168.233.'), leases
    # the guest itself holds that address on the NIC with that MAC (a lease
    # left by an earlier run of this test would not be on this guest)
    interfaces = agent(fleet.domain('hostA', uuid), 'guest-network-get-interfaces')
    held = [a['ip-address'] for i in interfaces if i.get('hardware-address') == MAC
            for a in i.get('ip-addresses', [])]
    assert mine[0]['ipaddr'] in held, (mine, interfaces)


def test_guest_agent_answers_through_the_channel_the_collection_defines(fleet, guests):
    dom = fleet.domain('hostA', guests['uuids']['e2e-cloud'])
    assert "name='org.qemu.guest_agent.0'" in dom.XMLDesc(0).replace('"', "'")
    assert agent(dom, 'guest-ping') == {}
    info = agent(dom, 'guest-info')
    assert info['version'] and any(c['name'] == 'guest-exec' for c in info['supported_commands'])


def test_soft_reboot_goes_through_systemd_and_shuts_down_cleanly(fleet, guests):
    console = guests['consoles']['e2e-cloud']
    before = boot_report(console, 'hostA', new=False)
    written = before['written']
    assert written
    mark(console)
    result = harness.ok(fleet.a, 'instance_reboot', {'name': 'e2e-cloud', 'type': 'soft', 'soft_timeout': 240})
    assert result['method'] == 'soft' and result['fallback'] is None, result
    after = boot_report(console, 'hostA')
    text = after['text']
    # systemd stopped everything and powered off; the next boot found a clean filesystem
    assert 'systemd-shutdown[1]: Powering off.' in text and 'reboot: Power down' in text
    ext4 = [line for line in text.splitlines() if 'EXT4-fs (vda' in line]
    assert ext4 and not [line for line in ext4 if 'recovery' in line or 'orphan' in line], ext4
    assert after['boot_id'] and after['boot_id'] != before['boot_id']
    assert after['data'] == written


def _move(fleet, **extra):
    extra = dict({'instance': 'e2e-mover', 'source_host': 'hostA', 'dest_host': 'hostB'}, **extra)
    done = fleet.playbook(RESIZE, extra)
    assert done.returncode == 0, done.stdout[-6000:]


def _runs_on(fleet, uuid, host, other):
    dom = fleet.domain(host, uuid)
    assert dom is not None and dom.isActive(), '%s does not run on %s' % (uuid, host)
    assert fleet.domain(other, uuid) is None or not fleet.domain(other, uuid).isActive()
    return dom


def _agent_answers(dom):
    """The channel came along: the guest agent answers on this host."""
    assert agent(dom, 'guest-ping') == {}


def test_guest_data_survives_migration_with_revert_and_resize_with_confirm(fleet, guests):
    uuid = guests['uuids']['e2e-mover']
    console = guests['consoles']['e2e-mover']
    first = boot_report(console, 'hostA', new=False)
    written = first['written']
    assert written
    small_root = int(first['root_bytes'])

    mark(console)
    _move(fleet, confirm=False)
    on_b = _runs_on(fleet, uuid, 'hostB', 'hostA')
    assert boot_report(console, 'hostB')['data'] == written
    _agent_answers(on_b)

    mark(console)
    _move(fleet, resize_action='revert')
    on_a = _runs_on(fleet, uuid, 'hostA', 'hostB')
    assert not os.path.exists(os.path.join(fleet.b.path, uuid))
    assert boot_report(console, 'hostA')['data'] == written
    _agent_answers(on_a)

    mark(console)
    _move(fleet, flavor=dict(FLAVOR, root_gb=3), confirm=True)
    on_b = _runs_on(fleet, uuid, 'hostB', 'hostA')
    resized = boot_report(console, 'hostB')
    _agent_answers(on_b)
    assert resized['data'] == written
    # growpart grew the last partition and resize2fs the filesystem: about 1 GiB more
    assert int(resized['root_bytes']) > small_root + GiB * 9 // 10, (small_root, resized['root_bytes'])
    assert fleet.owner(uuid) == 'hostB'
    assert not os.path.exists(os.path.join(fleet.a.path, uuid))


def test_host_power_loss_while_the_guest_writes_then_one_recovery_command(fleet, guests):
    uuid = guests['uuids']['e2e-cloud']
    console = guests['consoles']['e2e-cloud']
    before = boot_report(console, 'hostA', new=False)
    dom = fleet.domain('hostA', uuid)
    writer = agent(dom, 'guest-exec', {'path': '/bin/sh', 'arg': [
        '-c', 'while :; do head -c 16M /dev/urandom > /var/tmp/churn; sync; done']})
    assert agent(dom, 'guest-exec-status', {'pid': writer['pid']})['exited'] is False

    mark(console)
    harness.kill_guests([uuid])
    harness.wait_shutoff(fleet.a, uuid)
    fleet.a.restart_libvirtd()
    recovered = fleet.playbook(RECONCILE, {'resume_guests_state_on_host_boot': True})
    assert recovered.returncode == 0, recovered.stdout[-6000:]

    dom = _runs_on(fleet, uuid, 'hostA', 'hostB')
    after = boot_report(console, 'hostA')
    _agent_answers(dom)
    assert after['datasource'].startswith('DataSourceConfigDrive')
    assert after['boot_id'] != before['boot_id']
    assert after['data'] == before['data'] and after['data'] not in (None, 'BAD')
    record = fleet.a.record(uuid)
    assert (record['vm_state'], record['task_state']) == ('active', None), record
    # the one command converged: a second run has nothing left to do
    again = fleet.playbook(RECONCILE, {'resume_guests_state_on_host_boot': True})
    assert again.returncode == 0 and set(harness.recap_changed(again.stdout).values()) == {0}, again.stdout[-4000:]
