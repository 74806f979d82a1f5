"""Placement on the real hypervisors of this machine: hypervisor_info's
facts and hypervisor_service's flag on host A, then ``dest_host: auto``
through the resize playbook, where the only host that fits is B (A is the
source; a third inventory host, C, a logical hypervisor on A's libvirtd with
its own compute_host and instances_path, is disabled), and a request that
fits nowhere is refused with every host's reason before anything moves."""

import json
import os
import subprocess

import libvirt
import pytest
from lxml import etree

from test_live_migration import counter_guest, data_on_disk, kept_counting, ticks
from test_migration import TwoHosts, has_marker, stopped_with_marker


@pytest.fixture
def hosts(prefix, instances_path, tmp_path, run_module, conn):
    pair = TwoHosts(prefix, instances_path, tmp_path, run_module, conn)
    c_path = str(tmp_path / 'host-c')
    with open(pair.inventory, 'a') as handle:
        handle.write('hostC ansible_connection=local ansible_python_interpreter={py} novalite_libvirt_uri=qemu:///system '
                     'novalite_instances_path={c}\n'.format(py=os.environ['ANSIBLE_PYTHON_INTERPRETER'], c=c_path))
    pair.c_path = c_path
    yield pair
    pair.cleanup()


def service(hosts, check=False, diff=False, **args):
    return hosts.run_module('hypervisor_service', dict(args, compute_host='hostC', instances_path=hosts.c_path),
                            check=check, diff=diff)


def test_hypervisor_info_counts_what_the_records_claim(hosts):
    empty = hosts.module('hostA', 'hypervisor_info', {})
    facts = empty['hypervisor']
    assert not empty['changed'] and facts['compute_host'] == 'hostA' and facts['enabled'] is True
    assert facts['used'] == {'memory_mb': 0, 'vcpus': 0, 'disk_gb': 0} and facts['instances'] == []
    conn_info = hosts.conn_a.getInfo()
    assert (facts['memory_mb'], facts['vcpus']) == (conn_info[1], conn_info[2])
    assert os.environ['NOVALITE_VIRT_TYPE'] in facts['virt_types'] and facts['arch'] == conn_info[0]
    assert facts['cpu']['features'] and 0 < facts['free_disk_gb'] <= facts['disk_gb']
    # every feature of the CPU, its model's own included (capabilities list
    # only those beyond the model): lists of hosts of other models compare
    listed = set(f.get('name') for f in
                 etree.fromstring(hosts.conn_a.getCapabilities().encode()).findall('host/cpu/feature'))
    assert listed < set(facts['cpu']['features']) and 'fpu' in facts['cpu']['features'] and 'fpu' not in listed

    inst = hosts.spawn_a(hosts.prefix + '-i', state='stopped',
                         flavor={'vcpus': 1, 'memory_mb': 128, 'root_gb': 1, 'ephemeral_gb': 1, 'swap_mb': 512})
    facts = hosts.module('hostA', 'hypervisor_info', {}, check=True)['hypervisor']
    assert facts['used'] == {'memory_mb': 128, 'vcpus': 1, 'disk_gb': 2.5}
    assert [(i['uuid'], i['vm_state'], i['power_state']) for i in facts['instances']] == [
        (inst['uuid'], 'stopped', 'shutdown')]
    # the power state is libvirt's at this look, not the record's
    domain = hosts.conn_a.lookupByUUIDString(inst['uuid'])
    domain.create()
    try:
        facts = hosts.module('hostA', 'hypervisor_info', {})['hypervisor']
        assert [(i['vm_state'], i['power_state']) for i in facts['instances']] == [('stopped', 'running')]
    finally:
        domain.destroy()


def test_hypervisor_service_disables_and_enables_with_check_diff_and_idempotency(hosts):
    checked = service(hosts, check=True, diff=True, enabled=False, disabled_reason='firmware')
    assert checked['changed'] and checked['diff']['after'] == {'enabled': False, 'disabled_reason': 'firmware'}
    assert not os.path.exists(os.path.join(hosts.c_path, '_hosts')) or not os.listdir(os.path.join(hosts.c_path, '_hosts'))
    done = service(hosts, enabled=False, disabled_reason='firmware')
    assert done['changed'] and done['service']['enabled'] is False and done['service']['updated_at']
    again = service(hosts, enabled=False, disabled_reason='firmware')
    assert not again['changed']
    facts = hosts.run_module('hypervisor_info', {'compute_host': 'hostC', 'instances_path': hosts.c_path})
    assert (facts['hypervisor']['enabled'], facts['hypervisor']['disabled_reason']) == (False, 'firmware')
    assert service(hosts, enabled=True)['changed']
    assert hosts.run_module('hypervisor_info', {'compute_host': 'hostC',
                                                'instances_path': hosts.c_path})['hypervisor']['enabled'] is True


@pytest.mark.parametrize('args, message', [
    ({'enabled': True, 'disabled_reason': 'x'}, 'only given with enabled=false'),
    ({'enabled': False, 'disabled_reason': 'bad\tcolumn'}, 'control character'),
    ({'enabled': False, 'disabled_reason': 'bad\x07bell'}, 'XML cannot hold'),
    ({'enabled': False, 'disabled_reason': '   '}, 'not blank'),
    ({'enabled': False, 'disabled_reason': 'x' * 256}, '1 to 255'),
], ids=['reason-while-enabling', 'control-character', 'not-xml', 'blank', 'too-long'])
def test_hypervisor_service_refuses_bad_input_and_writes_nothing(hosts, args, message):
    result = service(hosts, **args)
    assert result.get('failed') and message in result['msg'] and result['error'] == 'InvalidInput'
    assert not os.path.isdir(os.path.join(hosts.c_path, '_hosts')) or not os.listdir(os.path.join(hosts.c_path, '_hosts'))


def test_dest_host_auto_moves_to_the_only_host_that_fits(hosts):
    assert service(hosts, enabled=False, disabled_reason='maintenance window')['changed']
    inst = stopped_with_marker(hosts, hosts.prefix + '-p')
    uuid = inst['uuid']

    too_big = hosts.playbook('-e', 'instance=' + inst['name'], '-e', '{"flavor": {"vcpus": 1, "memory_mb": 16777216}}',
                             dest='auto')
    assert too_big.returncode != 0
    assert 'NoValidHost' in too_big.stdout or 'fit on no host' in too_big.stdout, too_big.stdout[-3000:]
    assert 'hostC: disabled: maintenance window' in too_big.stdout and 'hostA: excluded' in too_big.stdout
    assert 'hostB: needs 16777216 MiB of RAM' in too_big.stdout
    assert hosts.record(hosts.a_path, uuid)['host'] == 'hostA' and uuid not in hosts.domains(hosts.conn_b)

    # a host variable reserves B's whole memory for its other users: nothing fits there any more
    b_memory = hosts.conn_b.getInfo()[1]
    reserved = hosts.playbook('-e', 'instance=' + inst['name'],
                              '-e', json.dumps({'novalite_reserved': {'memory_mb': b_memory}}), dest='auto')
    assert reserved.returncode != 0
    assert 'MiB x 1.0 ratio - %d reserved' % b_memory in reserved.stdout, reserved.stdout[-3000:]
    assert hosts.record(hosts.a_path, uuid)['host'] == 'hostA' and uuid not in hosts.domains(hosts.conn_b)

    moved = hosts.playbook('-e', 'instance=' + inst['name'], '-e', 'confirm=true', dest='auto')
    assert moved.returncode == 0, moved.stdout[-4000:]
    assert '%s -> hostB' % inst['name'] in moved.stdout
    assert hosts.record(hosts.b_path, uuid)['host'] == 'hostB'
    assert hosts.domains(hosts.conn_b)[uuid].state()[0] == libvirt.VIR_DOMAIN_SHUTOFF
    ok, out = has_marker(os.path.join(hosts.b_path, uuid, 'disk'))
    assert ok, out


MAINTENANCE = os.path.join(os.path.dirname(__file__), '..', '..', 'playbooks', 'host_maintenance.yml')


def maintenance(hosts, *extra):
    cmd = ['ansible-playbook', '-i', hosts.inventory, MAINTENANCE] + list(extra)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=1200, check=False,
                          env=dict(os.environ, ANSIBLE_NOCOLOR='1'))


def test_a_drain_empties_host_a_onto_b_running_guests_live_stopped_ones_cold(hosts):
    assert service(hosts, enabled=False, disabled_reason='not a destination here')['changed']
    running, written = counter_guest(hosts, hosts.prefix + '-run')
    stopped = stopped_with_marker(hosts, hosts.prefix + '-off')
    with open(running['console_log']) as handle:
        seen_on_a = max(ticks(handle.read()))

    # check mode: the plan, and nothing moves
    preview = maintenance(hosts, '--check', '-e', 'host=hostA', '-e', '{"reason": "kernel update"}')
    assert preview.returncode == 0, preview.stdout[-5000:]
    assert '"moved": []' in preview.stdout and '"would_move": [' in preview.stdout, preview.stdout[-3000:]
    assert '"how": "live"' in preview.stdout and '"how": "cold"' in preview.stdout, preview.stdout[-3000:]
    assert 'hostA would stay disabled' in preview.stdout
    a_facts = hosts.module('hostA', 'hypervisor_info', {})['hypervisor']
    assert sorted(i['uuid'] for i in a_facts['instances']) == sorted([running['uuid'], stopped['uuid']])
    assert a_facts['enabled'] is True

    drained = maintenance(hosts, '-e', 'host=hostA', '-e', '{"reason": "kernel update"}')
    assert drained.returncode == 0, drained.stdout[-5000:]
    assert '"how": "live"' in drained.stdout and '"how": "cold"' in drained.stdout
    assert '"not_moved": []' in drained.stdout and '"would_move": []' in drained.stdout

    a_facts = hosts.module('hostA', 'hypervisor_info', {})['hypervisor']
    assert a_facts['instances'] == [] and a_facts['used']['memory_mb'] == 0
    assert (a_facts['enabled'], a_facts['disabled_reason']) == (False, 'kernel update')
    b_facts = hosts.module('hostB', 'hypervisor_info', {})['hypervisor']
    on_b = dict((i['uuid'], i['vm_state']) for i in b_facts['instances'])
    assert on_b == {running['uuid']: 'active', stopped['uuid']: 'stopped'}

    # the running guest never stopped counting, and its data is intact on B
    b_dir = os.path.join(hosts.b_path, running['uuid'])
    kept_counting(os.path.join(b_dir, 'console.log'), after=seen_on_a)
    assert data_on_disk(b_dir) == written
    ok, out = has_marker(os.path.join(hosts.b_path, stopped['uuid'], 'disk'))
    assert ok, out

    # placement no longer chooses A; enabling puts it back
    enabled = maintenance(hosts, '-e', 'host=hostA', '-e', 'action=enable')
    assert enabled.returncode == 0, enabled.stdout[-3000:]
    assert hosts.module('hostA', 'hypervisor_info', {})['hypervisor']['enabled'] is True


def instance_role(hosts, tmp_path, entries, candidates=('hostA', 'hostB')):
    """The instance role in placement mode, on the controller, over ``candidates``."""
    play = [{'hosts': 'localhost', 'gather_facts': False, 'tasks': [
        {'name': 'Converge the instances wherever they are or fit',
         'ansible.builtin.include_role': {'name': 'novalite.compute.instance'},
         'vars': {'instance_placement': True, 'instance_candidates': list(candidates),
                  'instance_defaults': {'virt_type': os.environ['NOVALITE_VIRT_TYPE']}, 'instance_list': entries}},
        {'name': 'Where each one is', 'ansible.builtin.debug': {'msg': 'PLACED {{ instance_placed | to_json }}'}}]}]
    path = tmp_path / 'instances.yml'
    path.write_text(json.dumps(play))
    return subprocess.run(['ansible-playbook', '-i', hosts.inventory, str(path)], capture_output=True, text=True,
                          timeout=900, check=False, env=dict(os.environ, ANSIBLE_NOCOLOR='1'))


def placed(stdout):
    line = [text for text in stdout.splitlines() if '"msg": "PLACED ' in text][-1]
    return json.loads(json.loads('{%s}' % line.strip())['msg'][len('PLACED '):])


def test_the_instance_role_places_new_instances_and_finds_them_again(hosts, tmp_path):
    entry = {'name': hosts.prefix + '-r', 'state': 'stopped', 'flavor': {'vcpus': 1, 'memory_mb': 64},
             'image': {'url': 'file://' + os.environ['NOVALITE_TEST_IMAGE']}}
    disabled = hosts.module('hostA', 'hypervisor_service', {'enabled': False, 'disabled_reason': 'full'})
    assert disabled['changed'], disabled

    # a new instance that fits nowhere: refused before anything is built
    too_big = instance_role(hosts, tmp_path, [dict(entry, flavor={'vcpus': 1, 'memory_mb': 16777216})])
    assert too_big.returncode != 0 and 'hostA: disabled: full' in too_big.stdout, too_big.stdout[-3000:]
    assert 'hostB: needs 16777216 MiB of RAM' in too_big.stdout, too_big.stdout[-3000:]
    assert not [d for d in hosts.domains(hosts.conn_b).values() if d.name().startswith(hosts.prefix)]

    # placed: A is disabled, B is the only host that fits
    first = instance_role(hosts, tmp_path, [entry])
    assert first.returncode == 0, first.stdout[-4000:]
    assert placed(first.stdout) == {entry['name']: 'hostB'}
    on_b = hosts.module('hostB', 'hypervisor_info', {})['hypervisor']['instances']
    assert [(i['name'], i['vm_state']) for i in on_b] == [(entry['name'], 'stopped')]

    # A enabled again (and emptier): the instance is found on B, not built again on A
    assert hosts.module('hostA', 'hypervisor_service', {'enabled': True})['changed']
    again = instance_role(hosts, tmp_path, [entry])
    assert again.returncode == 0 and placed(again.stdout) == {entry['name']: 'hostB'}, again.stdout[-4000:]
    assert 'changed=0' in again.stdout, again.stdout[-3000:]
    assert hosts.module('hostA', 'hypervisor_info', {})['hypervisor']['instances'] == []

    # absent: deleted where it is; absent again: nothing to do anywhere
    gone = instance_role(hosts, tmp_path, [dict(entry, state='absent')])
    assert gone.returncode == 0, gone.stdout[-4000:]
    assert hosts.module('hostB', 'hypervisor_info', {})['hypervisor']['instances'] == []
    nothing = instance_role(hosts, tmp_path, [dict(entry, state='absent')])
    assert nothing.returncode == 0 and placed(nothing.stdout) == {} and 'changed=0' in nothing.stdout, \
        nothing.stdout[-3000:]
