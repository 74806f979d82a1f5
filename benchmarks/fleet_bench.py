"""Fleet-scale benchmarks by simulation on this machine: N logical
hypervisors (benchmarks/fleet_hosts.sh: each a unix user with its own
libvirtd, qemu:///session, instances_path and compute_host, reached over
SSH like a real host) with M defined instances each (clones of one spawned
template: records, instance directories, defined domains; none started).

    . build/novalite.env && bash benchmarks/fleet_hosts.sh 20 \\
        && python benchmarks/fleet_bench.py [--sizes 5,10,20] [--instances 100] [--place 100]

For each N it prints, with the time per host and per instance:
  reconcile   playbooks/reconcile.yml over the whole fleet (forks = N), the
              fleet consistent (nothing to correct: one round)
  stale       the same with every record stale (it says running, the domain
              is shut off): N x M corrections
  inventory   ansible-inventory --list with the novalite.compute.instances
              plugin reading every hypervisor over SSH
  placement   the placement role choosing hosts for P new instances
              (hypervisor_info on every host, then one placement call)
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import libvirt

from fleet_sim import clone, make_stale, remove, spawn_template

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BASE = '/var/lib/novalite-fleet'
TEMPLATE_PATH = '/var/lib/novalite-bench-fleet-template'
TEMPLATE_HOST = 'bench-fleet-template'
PORT = 2230
KEY = '/root/.ssh/novalite_migration_ed25519'


def host_name(n):
    return 'fleet%02d' % n


def user(n):
    return 'novalite-fleet-%02d' % n


def instances_path(n):
    return os.path.join(BASE, '%02d' % n, 'instances')


def session_uri(n):
    return 'qemu+unix:///session?socket=%s/.cache/libvirt/libvirt-sock' % os.path.join(BASE, '%02d' % n)


def populate(count, per_host, template):
    """Returns {host number: uuids of its clones}."""
    made = {}
    for n in range(1, count + 1):
        remove(session_uri(n), instances_path(n), keep_root=True)
        os.makedirs(os.path.join(instances_path(n), '_records'), 0o700)
        conn = libvirt.open(session_uri(n))
        try:
            made[n] = clone(conn, instances_path(n), template, per_host, host_name(n), source=TEMPLATE_PATH,
                            host=host_name(n))
        finally:
            conn.close()
        subprocess.run(['chown', '-R', '%s:%s' % (user(n), user(n)), instances_path(n)], check=True)
    return made


def stale(made):
    """Every record says running (the domains are shut off): each host has M corrections to make."""
    for n, uuids in made.items():
        make_stale(instances_path(n), uuids)
        subprocess.run(['chown', '-R', '%s:%s' % (user(n), user(n)), os.path.join(instances_path(n), '_records')],
                       check=True)


def write_inventory(workdir, count):
    ini = os.path.join(workdir, 'fleet.ini')
    with open(ini, 'w') as handle:
        handle.write('[hypervisors]\n')
        for n in range(1, count + 1):
            handle.write('%s ansible_host=127.0.0.1 ansible_port=%d ansible_user=%s ansible_ssh_private_key_file=%s '
                         'ansible_python_interpreter=/usr/bin/python3 novalite_libvirt_uri=qemu:///session '
                         'novalite_instances_path=%s novalite_compute_host=%s\n'
                         % (host_name(n), PORT, user(n), KEY, instances_path(n), host_name(n)))
    plugin = os.path.join(workdir, 'fleet.instances.yml')
    with open(plugin, 'w') as handle:
        json.dump({'plugin': 'novalite.compute.instances', 'hypervisors': [
            {'name': host_name(n), 'compute_host': host_name(n), 'instances_path': instances_path(n),
             'ssh_host': '127.0.0.1', 'ssh_port': PORT, 'ssh_user': user(n), 'ssh_key': KEY,
             'python': '/usr/bin/python3'} for n in range(1, count + 1)]}, handle)
    return ini, plugin


def timed(cmd, what):
    start = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False,
                          env=dict(os.environ, ANSIBLE_NOCOLOR='1', ANSIBLE_HOST_KEY_CHECKING='False'))
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit('%s failed:\n%s' % (what, proc.stdout[-4000:]))
    return seconds, proc.stdout


def bench_reconcile(ini, count):
    seconds, out = timed(['ansible-playbook', '-i', ini, '-f', str(count), os.path.join(ROOT, 'playbooks', 'reconcile.yml'),
                          '-e', 'target=hypervisors'], 'the reconcile playbook')
    if 'failed=0' not in out:
        raise SystemExit('the reconcile playbook reported failures:\n' + out[-3000:])
    return seconds


def bench_inventory(plugin, count, per_host):
    seconds, out = timed(['ansible-inventory', '-i', plugin, '--list'], 'ansible-inventory')
    listed = json.loads(out[out.index('{'):])
    found = len(listed.get('novalite_instances', {}).get('hosts', []))
    if found != count * per_host:
        raise SystemExit('the inventory plugin listed %d instances, not %d' % (found, count * per_host))
    return seconds


def bench_placement(workdir, ini, count, places):
    virt_type = os.environ.get('NOVALITE_VIRT_TYPE', 'kvm')
    requests = [{'name': 'new-%03d' % i, 'flavor': {'vcpus': 1, 'memory_mb': 1}, 'virt_type': virt_type} for i in range(places)]
    playbook = os.path.join(workdir, 'place.yml')
    with open(playbook, 'w') as handle:
        json.dump([{'name': 'Place', 'hosts': 'localhost', 'gather_facts': False, 'tasks': [
            {'name': 'Place the new instances', 'ansible.builtin.include_role': {'name': 'novalite.compute.placement'},
             'vars': {'placement_requests': requests,
                      'placement_options': {'ram_allocation_ratio': 1000.0, 'cpu_allocation_ratio': 1000.0}}},
            {'name': 'Every one placed', 'ansible.builtin.assert': {
                'that': ['placement_chosen | length == %d' % places]}}]}], handle)
    return timed(['ansible-playbook', '-i', ini, '-f', str(count), playbook], 'the placement play')[0]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--sizes', default='5,10,20')
    parser.add_argument('--instances', type=int, default=100)
    parser.add_argument('--place', type=int, default=100)
    opts = parser.parse_args()
    sizes = [int(s) for s in opts.sizes.split(',')]
    remove('qemu:///system', TEMPLATE_PATH)
    template = spawn_template('qemu:///system', TEMPLATE_PATH, TEMPLATE_HOST,
                              'file://' + os.environ['NOVALITE_TEST_IMAGE'], os.environ.get('NOVALITE_VIRT_TYPE', 'kvm'))
    workdir = tempfile.mkdtemp(prefix='fleet-bench-')
    m = opts.instances
    print('%4s %5s | %12s %9s %9s | %12s %9s %9s | %12s %9s %9s | %12s %9s %9s' % (
        'N', 'M', 'reconcile s', '/host s', '/inst ms', 'stale s', '/host s', '/inst ms',
        'inventory s', '/host s', '/inst ms', 'placement s', '/host s', '/inst ms'))
    try:
        for count in sizes:
            made = populate(count, m, template)
            ini, plugin = write_inventory(workdir, count)
            rec = bench_reconcile(ini, count)
            stale(made)
            corrected = bench_reconcile(ini, count)
            inv = bench_inventory(plugin, count, m)
            place = bench_placement(workdir, ini, count, opts.place)
            cells = []
            for seconds, per in ((rec, count * m), (corrected, count * m), (inv, count * m), (place, opts.place)):
                cells.append('%12.1f %9.2f %9.2f' % (seconds, seconds / count, 1000 * seconds / per))
            print('%4d %5d | %s' % (count, m, ' | '.join(cells)), flush=True)
    finally:
        for n in range(1, max(sizes) + 1):
            remove(session_uri(n), instances_path(n), keep_root=True)
        remove('qemu:///system', TEMPLATE_PATH)


if __name__ == '__main__':
    sys.exit(main())
