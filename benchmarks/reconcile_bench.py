"""One host's state_reconcile at scale: M stale instances (their records say
running, their domains are shut off), reconciled by one run, beside a
per-domain status loop over the same domains (what a community.libvirt
``virt: command=status`` loop costs: one Ansible task per domain).

    . build/novalite.env && python benchmarks/reconcile_bench.py [--sizes 100,250,500] [--repeat 3]
        [--baseline-sizes 100,250,500]

For each M it prints:
  module s    the module process alone (python state_reconcile.py <args>):
              imports, one look at every record and domain, M records
              corrected, each under its lock, durably
  ansible s   ``ansible localhost -m novalite.compute.state_reconcile``
              (adds Ansible's start-up and the module's shipping)
  loop s      the per-domain status loop over the same M domains (reads
              only: it corrects nothing)
and the time per instance of each, so growth with M can be judged.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import libvirt

from fleet_sim import clone, make_stale, remove, spawn_template

ROOT = '/var/lib/novalite-bench-reconcile'
HOST = 'bench-reconcile'
URI = 'qemu:///system'
HERE = os.path.dirname(os.path.abspath(__file__))


def module_file():
    for base in os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(':'):
        candidate = os.path.join(base, 'ansible_collections', 'novalite', 'compute', 'plugins', 'modules',
                                 'state_reconcile.py')
        if os.path.exists(candidate):
            return base, candidate
    raise SystemExit('novalite.compute is not installed under ANSIBLE_COLLECTIONS_PATH')


def reconcile_args():
    return {'uri': URI, 'instances_path': ROOT, 'compute_host': HOST, 'mode': 'both', 'fail_on_error': True}


def run_module_alone(args):
    """Seconds of the module process run directly, and its result."""
    base, path = module_file()
    with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as handle:
        json.dump({'ANSIBLE_MODULE_ARGS': args}, handle)
    try:
        start = time.monotonic()
        proc = subprocess.run([sys.executable, path, handle.name], capture_output=True, text=True, check=False,
                              env=dict(os.environ, PYTHONPATH=base))
        seconds = time.monotonic() - start
    finally:
        os.unlink(handle.name)
    result = json.loads(proc.stdout)
    if result.get('failed'):
        raise SystemExit('state_reconcile failed: %s' % result.get('msg'))
    return seconds, result


def run_through_ansible(args):
    start = time.monotonic()
    proc = subprocess.run(['ansible', 'localhost', '-m', 'novalite.compute.state_reconcile', '-a', json.dumps(args)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False,
                          env=dict(os.environ, ANSIBLE_LOCALHOST_WARNING='false'))
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit(proc.stdout.decode())
    return seconds


def status_loop(names):
    with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as handle:
        json.dump({'domains': names, 'uri': URI}, handle)
    try:
        start = time.monotonic()
        subprocess.run(['ansible-playbook', '-e', '@' + handle.name, os.path.join(HERE, 'playbooks', 'status_loop.yml')],
                       check=True, stdout=subprocess.DEVNULL, env=dict(os.environ, ANSIBLE_LOCALHOST_WARNING='false'))
        return time.monotonic() - start
    finally:
        os.unlink(handle.name)


def corrected(result):
    return sum(1 for r in result['results'] if any(a['action'] != 'note' for a in r.get('done') or []))


def measure(size, repeat, with_loop, url, virt_type):
    remove(URI, ROOT)
    template = spawn_template(URI, ROOT, HOST, url, virt_type)
    conn = libvirt.open(URI)
    try:
        uuids = clone(conn, ROOT, template, size, 'bench-rec')
    finally:
        conn.close()
    remove_template(template)
    alone, through = [], []
    for _n in range(repeat):
        make_stale(ROOT, uuids)
        seconds, result = run_module_alone(reconcile_args())
        if corrected(result) != size:
            raise SystemExit('state_reconcile corrected %d of %d stale records' % (corrected(result), size))
        alone.append(seconds)
        make_stale(ROOT, uuids)
        through.append(run_through_ansible(reconcile_args()))
    loop = status_loop(['bench-rec-%03d' % n for n in range(size)]) if with_loop else None
    remove(URI, ROOT)
    return statistics.median(alone), statistics.median(through), loop


def remove_template(template):
    """The template is not one of the M: its domain and files go."""
    conn = libvirt.open(URI)
    try:
        conn.lookupByUUIDString(template['uuid']).undefine()
    finally:
        conn.close()
    subprocess.run(['rm', '-rf', os.path.join(ROOT, template['uuid']),
                    os.path.join(ROOT, '_records', template['uuid'] + '.json'),
                    os.path.join(ROOT, '_records', template['uuid'] + '.actions.jsonl')], check=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--sizes', default='100,250,500')
    parser.add_argument('--baseline-sizes', default='100,250,500',
                        help='sizes that also run the per-domain loop (about 0.8 s per domain)')
    parser.add_argument('--repeat', type=int, default=3)
    opts = parser.parse_args()
    url = 'file://' + os.environ['NOVALITE_TEST_IMAGE']
    virt_type = os.environ.get('NOVALITE_VIRT_TYPE', 'kvm')
    with_loop = set(int(s) for s in opts.baseline_sizes.split(',') if s)
    print('%6s %10s %12s %10s %12s %10s %12s %9s' % ('M', 'module s', 'per inst ms', 'ansible s', 'per inst ms',
                                                     'loop s', 'per inst ms', 'loop/ans'))
    try:
        for size in (int(s) for s in opts.sizes.split(',')):
            alone, through, loop = measure(size, opts.repeat, size in with_loop, url, virt_type)
            loop_cols = ('%10.1f %12.1f %8.0fx' % (loop, 1000 * loop / size, loop / through)) if loop else \
                '%10s %12s %9s' % ('-', '-', '-')
            print('%6d %10.2f %12.2f %10.2f %12.2f %s' % (size, alone, 1000 * alone / size, through,
                                                          1000 * through / size, loop_cols), flush=True)
    finally:
        remove(URI, ROOT)


if __name__ == '__main__':
    main()
