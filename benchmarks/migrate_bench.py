"""Migration copy benchmark: an instance whose root disk is 10 GiB virtual
with 256 MiB written is moved from host A (root, qemu:///system) to host B
(novalite-b, qemu:///session, over SSH on 127.0.0.1:2222 — see
tests/tools/second_host.sh), and compared, in the same run, with
``rsync --sparse`` of the same files over the same SSH.

    . build/novalite.env && python benchmarks/migrate_bench.py [--repeat 3]

Reports, against the allocated bytes of the files copied:
* bytes on the wire: the loopback interface's byte counter across the copy
  (SSH framing and encryption included), ours and rsync's;
* time: ours is the copy phase timed by the module (the ``copy`` event of
  the action log: SSH connection, every file sent and sha256-verified on
  arrival; disk images are made durable later, by confirm) and, for
  information, the whole ``migrate`` step (also power-off check, rename,
  record hand-over, record writes); rsync's is its wall clock, without and
  with ``--fsync``. rsync goes first on odd runs and second on even ones.
"""

import json
import os
import statistics
import subprocess
import time

from bench_common import action_seconds, module, setup

ROOT = '/var/lib/novalite-bench-migrate'
B_ROOT = '/var/lib/novalite-hostb/instances/bench'
MiB = 1024 * 1024


def lo_bytes():
    with open('/sys/class/net/lo/statistics/tx_bytes') as handle:
        return int(handle.read())


def ssh_b(*argv):
    return ['ssh', '-o', 'BatchMode=yes', '-i', os.environ['NOVALITE_HOSTB_SSH_KEY'],
            '-p', os.environ['NOVALITE_HOSTB_SSH_PORT'], 'novalite-b@127.0.0.1'] + list(argv)


def timed_rsync(files, *flags):
    """rsync --sparse (plus ``flags``) of ``files`` to an empty directory on B
    over the same SSH: (seconds, bytes on the wire). The copy is removed after."""
    subprocess.run(ssh_b('mkdir', '-p', B_ROOT + '/rsync'), check=True)
    os.sync()   # nobody pays for another's writeback (rsync leaves its data dirty)
    wire = lo_bytes()
    start = time.monotonic()
    subprocess.run(['rsync', '--sparse'] + list(flags) + ['-e', ' '.join(ssh_b()[:-1])] + files
                   + ['novalite-b@127.0.0.1:%s/rsync/' % B_ROOT], check=True)
    measured = (time.monotonic() - start, lo_bytes() - wire)
    subprocess.run(ssh_b('rm', '-rf', B_ROOT + '/rsync'), check=True)
    return measured


def rsync_pair(files):
    """(seconds, bytes on the wire) of rsync --sparse, then the seconds of the
    same with --fsync (like for like: rsync made to fsync what it wrote)."""
    plain = timed_rsync(files)
    fsynced, _wire = timed_rsync(files, '--fsync')
    os.sync()
    return plain + (fsynced,)


def migrate_once(n, url, virt_type):
    name = 'bench-mig-%d' % n
    a_common = {'instances_path': ROOT, 'compute_host': 'hostA'}
    module('libvirt_instance', dict(a_common, name=name, state='stopped', virt_type=virt_type,
                                    flavor={'vcpus': 1, 'memory_mb': 128, 'root_gb': 10, 'swap_mb': 64},
                                    image={'url': url}))
    records = os.path.join(ROOT, '_records')
    uuid = [f for f in os.listdir(records) if f.endswith('.json')]
    uuid = sorted(uuid, key=lambda f: os.path.getmtime(os.path.join(records, f)))[-1][:-len('.json')]
    disk = os.path.join(ROOT, uuid, 'disk')
    subprocess.run(['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x61 1G 256M', disk], check=True,
                   stdout=subprocess.DEVNULL)
    files = [os.path.join(ROOT, uuid, f) for f in ('disk', 'disk.config', 'disk.info')]
    allocated = sum(os.stat(f).st_blocks * 512 for f in files)

    # ours: start -> prep -> migrate (the base image is already on B after the first run);
    # rsync --sparse of the same files over the same SSH goes first on odd runs
    # and second on even ones, so neither always follows the other's writeback
    def rsync_runs(directory):
        return rsync_pair([os.path.join(directory, os.path.basename(f)) for f in files])

    if n % 2:
        rsync = rsync_runs(os.path.join(ROOT, uuid))
    dest = {'host': '127.0.0.1', 'port': int(os.environ['NOVALITE_HOSTB_SSH_PORT']), 'user': 'novalite-b',
            'identity_file': os.environ['NOVALITE_HOSTB_SSH_KEY'], 'python': '/usr/bin/python3'}
    base = {'instances_path': ROOT, 'compute_host': 'hostA'}
    module('instance_migrate', dict(base, name=name, step='start', dest_host='hostB', dest_ssh=dest,
                                    dest_instances_path=B_ROOT))
    with open(os.path.join(records, uuid + '.json')) as handle:
        migration_id = json.load(handle)['migration']['id']
    with open(os.path.join(ROOT, '_migrations', migration_id + '.json')) as handle:
        migration = json.load(handle)
    prep = ['ansible', 'all', '-i', '127.0.0.1,', '-u', 'novalite-b', '-e', 'ansible_port=%s' %
            os.environ['NOVALITE_HOSTB_SSH_PORT'], '--private-key', os.environ['NOVALITE_HOSTB_SSH_KEY'],
            '-e', 'ansible_python_interpreter=/usr/bin/python3', '-m', 'novalite.compute.instance_migrate',
            '-a', json.dumps({'step': 'prep', 'migration': migration, 'compute_host': 'hostB',
                              'instances_path': B_ROOT, 'uri': 'qemu:///session'})]
    subprocess.run(prep, check=True, stdout=subprocess.DEVNULL)
    os.sync()
    wire = lo_bytes()
    module('instance_migrate', dict(base, name=name, step='migrate'))
    ours_wire = lo_bytes() - wire
    log = os.path.join(records, uuid + '.actions.jsonl')
    with open(log) as handle:
        copy_event = [json.loads(line) for line in handle if '"copy"' in line][-1]
    ours = (copy_event['seconds'], ours_wire, action_seconds(log, 'compute_resize_instance'))
    if not n % 2:
        rsync = rsync_runs(os.path.join(ROOT, uuid + '_resize'))
    order = ', rsync first' if n % 2 else ''
    print('run %d: copy %.3fs, rsync %.3fs (%.2fx)%s' % (n, ours[0], rsync[0], ours[0] / rsync[0], order))

    subprocess.run(ssh_b('rm', '-rf', os.path.join(B_ROOT, uuid)), check=True)
    subprocess.run(['virsh', '-q', 'undefine', name], check=True, stdout=subprocess.DEVNULL)
    return allocated, ours, rsync


def main():
    repeat, virt_type, url = setup(ROOT)
    subprocess.run(ssh_b('mkdir', '-p', B_ROOT), check=True)
    try:
        rows = [migrate_once(n, url, virt_type) for n in range(repeat + 1)][1:]   # first run warms B's cache
        allocated = statistics.median(r[0] for r in rows)
        ours_t = statistics.median(r[1][0] for r in rows)
        ours_b = statistics.median(r[1][1] for r in rows)
        rsync_t = statistics.median(r[2][0] for r in rows)
        rsync_b = statistics.median(r[2][1] for r in rows)
        print('allocated bytes of the copied files: %d (%.1f MiB), virtual root disk 10 GiB'
              % (allocated, allocated / MiB))
        step_t = statistics.median(r[1][2] for r in rows)
        fsync_t = statistics.median(r[2][2] for r in rows)
        print('%-44s %12s %12s %8s %7s' % ('benchmark (median of %d)' % repeat, 'ours', 'baseline', 'ratio',
                                           'target'))
        table = [
            ('bytes on the wire vs allocated', ours_b, allocated, '1.1x', '%12d'),
            ('bytes on the wire vs rsync --sparse', ours_b, rsync_b, '-', '%12d'),
            ('copy time vs rsync --sparse over the same SSH', ours_t, rsync_t, '1.1x', '%11.3fs'),
            ('whole migrate step vs rsync --sparse', step_t, rsync_t, '-', '%11.3fs'),
            ('copy time vs rsync --sparse --fsync', ours_t, fsync_t, '-', '%11.3fs'),
        ]
        for label, ours, base, target, number in table:
            print(('%-44s ' + number + ' ' + number + ' %7.2fx %7s') % (label, ours, base, ours / base, target))
        paired = statistics.median(r[1][0] / r[2][0] for r in rows)
        print('%-44s %12s %12s %7.2fx %7s' % ('copy time vs rsync, median of per-run ratios', '', '', paired, '1.1x'))
    finally:
        subprocess.run(ssh_b('rm', '-rf', B_ROOT), check=False)
        subprocess.run(['rm', '-rf', ROOT], check=False)


if __name__ == '__main__':
    main()
