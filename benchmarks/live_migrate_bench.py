"""Live migration benchmark: a running guest with 256 MiB of its memory
dirtied and a 1 GiB ephemeral disk with 256 MiB written is moved from host A
(root, qemu:///system) to host B (novalite-b, qemu:///session, over SSH on
127.0.0.1:2222 - see tests/tools/second_host.sh), and compared, in the same
run, with bare ``virsh migrate --live --p2p --copy-storage-inc`` of an
identical guest.

    . build/novalite.env && python benchmarks/live_migrate_bench.py [--repeat 3]

Each pair spawns two fresh guests on A (flavor 1 vCPU, 512 MiB, root 1 GiB,
ephemeral 1 GiB; the test image's metadata makes them write 256 MiB of random
data to the ephemeral disk and fill 256 MiB of tmpfs) and waits for the
console to show GUEST-DIRTY-MB then GUEST-TICK. Bare goes first on even runs
and second on odd ones.

ours: ``playbooks/live_migrate.yml`` (start, prep, migrate, finish through
Ansible). Timed: the whole playbook (wall clock), and libvirt's job as the
migrate step times it (``seconds`` of the ``live_migrated`` action event).

bare: the destination's files made by hand first and not timed (a copy of the
base image, a qcow2 overlay on it, a truncated raw ephemeral disk, the config
drive, the ``dumpxml --migratable`` XML with the paths and ``<nl:host>``
rewritten), then ``virsh migrate --live --p2p --copy-storage-inc
--persistent --undefinesource --xml --persistent-xml --migrateuri`` - only the
virsh command is timed, which is all the bare tool does.

For both, from libvirt: the job's own elapsed time and downtime, from the
statistics of the source's job-completed event (memory and disk) and from
the destination domain's completed job statistics (memory only: the
destination never sees the NBD disk copy); bytes libvirt says it processed
against the bytes to move (guest memory + the data extents of the copied
disks, SEEK_DATA), and the bytes the loopback interface carried while the
move ran (every stream of the move crosses it once). Every domain and
directory made is removed from both hosts at the end.
"""

import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import xml.etree.ElementTree as ET

import libvirt

from bench_common import VIRSH, module, setup, stamp

ROOT = '/var/lib/novalite-bench-live'
B_ROOT = '/var/lib/novalite-hostb/instances/bench-live'
B_LOCAL_URI = 'qemu+unix:///session?socket=/var/lib/novalite-hostb/.cache/libvirt/libvirt-sock'
HERE = os.path.dirname(os.path.abspath(__file__))
PLAYBOOK = os.path.join(HERE, '..', 'playbooks', 'live_migrate.yml')
MiB = 1024 * 1024
FLAVOR = {'vcpus': 1, 'memory_mb': 512, 'root_gb': 1, 'ephemeral_gb': 1}
METADATA = {'novalite_test_counter': '1', 'novalite_test_disk_mb': '256', 'novalite_test_dirty_mb': '256'}
TICK = re.compile(r'^GUEST-TICK (\d+)$', re.M)
READY_TIMEOUT = 300


# -- host B ------------------------------------------------------------------------

def b_user():
    return os.environ.get('NOVALITE_HOSTB_USER', 'novalite-b')


def as_b(argv, stdin=None):
    """Run ``argv`` as host B's user (files it makes are B's)."""
    subprocess.run(['runuser', '-u', b_user(), '--'] + list(argv), stdin=stdin, check=True,
                   stdout=subprocess.DEVNULL)


def copy_to_b(source, dest):
    with open(source, 'rb') as handle:
        as_b(['dd', 'of=' + dest, 'bs=1M', 'status=none'], stdin=handle)


def b_peer_uri():
    """The URI root's libvirtd opens to reach B's session daemon (as the role builds it)."""
    return 'qemu+ssh://%s@%s:%s/session?keyfile=%s' % (b_user(), os.environ['NOVALITE_HOSTB_SSH_HOST'],
                                                       os.environ['NOVALITE_HOSTB_SSH_PORT'],
                                                       os.environ['NOVALITE_HOSTB_SSH_KEY'])


def write_inventory(directory):
    path = os.path.join(directory, 'hosts.ini')
    venv_python = os.environ.get('ANSIBLE_PYTHON_INTERPRETER', '/usr/bin/python3')
    with open(path, 'w') as handle:
        handle.write('[hypervisors]\n')
        handle.write('hostA ansible_connection=local ansible_python_interpreter=%s novalite_libvirt_uri=qemu:///system '
                     'novalite_instances_path=%s novalite_migration_key=%s\n'
                     % (venv_python, ROOT, os.environ['NOVALITE_HOSTB_SSH_KEY']))
        handle.write('hostB ansible_host=%s ansible_port=%s ansible_user=%s ansible_ssh_private_key_file=%s '
                     'ansible_python_interpreter=/usr/bin/python3 novalite_libvirt_uri=qemu:///session '
                     'novalite_instances_path=%s novalite_python=/usr/bin/python3\n'
                     % (os.environ['NOVALITE_HOSTB_SSH_HOST'], os.environ['NOVALITE_HOSTB_SSH_PORT'], b_user(),
                        os.environ['NOVALITE_HOSTB_SSH_KEY'], B_ROOT))
    return path


# -- libvirt -----------------------------------------------------------------------

class JobEvents(object):
    """The statistics of every job-completed event of host A's domains, by
    domain name (libvirt sends them when the source's migration job ends,
    disk figures included)."""

    def __init__(self, conn):
        self.stats = {}
        self.cond = threading.Condition()
        self.callback = conn.domainEventRegisterAny(None, libvirt.VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
                                                    self._completed, None)

    def _completed(self, _conn, dom, params, _opaque):
        with self.cond:
            self.stats[dom.name()] = dict(params)
            self.cond.notify_all()

    def wait(self, name, timeout=30):
        with self.cond:
            self.cond.wait_for(lambda: name in self.stats, timeout)
            return self.stats.pop(name, {})


def start_event_loop():
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)     # errors are raised, not also printed
    libvirt.virEventRegisterDefaultImpl()

    def loop():
        while True:
            libvirt.virEventRunDefaultImpl()

    threading.Thread(target=loop, name='libvirt-events', daemon=True).start()


def dest_completed_stats(conn_b, name):
    """The destination domain's completed job statistics (read once: libvirt drops them after)."""
    return conn_b.lookupByName(name).jobStats(libvirt.VIR_DOMAIN_JOB_STATS_COMPLETED)


def remove_domain(conn, name):
    try:
        dom = conn.lookupByName(name)
    except libvirt.libvirtError:
        return
    if dom.isActive():
        dom.destroy()
    if dom.isPersistent():
        dom.undefine()


# -- the guest ---------------------------------------------------------------------

def spawn(conn_a, name, url, virt_type):
    module('libvirt_instance', {'name': name, 'instances_path': ROOT, 'compute_host': 'hostA', 'virt_type': virt_type,
                                'flavor': FLAVOR, 'image': {'url': url, 'format': 'qcow2'}, 'metadata': METADATA})
    return conn_a.lookupByName(name).UUIDString()


def last_tick(console_log):
    try:
        with open(console_log, errors='replace') as handle:
            text = handle.read()
    except FileNotFoundError:
        return None, ''
    ticks = TICK.findall(text)
    return (int(ticks[-1]) if ticks else None), text


def wait_dirty(console_log):
    """Until the guest has filled its memory and ticks; its last tick."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        tick, text = last_tick(console_log)
        if 'GUEST-DIRTY-MB' in text and TICK.search(text[text.index('GUEST-DIRTY-MB'):]):
            return tick
        time.sleep(0.5)
    raise SystemExit('the guest did not dirty its memory within %ss: %s' % (READY_TIMEOUT, console_log))


def wait_tick_after(console_log, before, timeout=20):
    """The first tick above ``before`` on the destination's console: the
    guest kept running (a rebooted guest counts again from 1)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        tick, _text = last_tick(console_log)
        if tick is not None and tick > before:
            return tick
        time.sleep(0.25)
    raise SystemExit('no GUEST-TICK above %d on %s within %ss after the move' % (before, console_log, timeout))


def data_bytes(path):
    """Bytes in the file's data extents (SEEK_DATA/SEEK_HOLE): what a sparse-aware copy moves."""
    total = 0
    with open(path, 'rb') as handle:
        fd, size, offset = handle.fileno(), os.fstat(handle.fileno()).st_size, 0
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError:
                break       # only a hole is left
            end = os.lseek(fd, start, os.SEEK_HOLE)
            total += end - start
            offset = end
    return total


def guest_disks(xml):
    """[(dev, path, format, readonly)] of the domain's file disks."""
    found = []
    for disk in ET.fromstring(xml).findall('./devices/disk'):
        source, driver = disk.find('source'), disk.find('driver')
        if source is not None and source.get('file'):
            found.append((disk.find('target').get('dev'), source.get('file'),
                          driver.get('type') if driver is not None else 'raw', disk.find('readonly') is not None))
    return found


def to_move(conn_a, name):
    """(memory bytes, data bytes of the disks a block migration copies) of the running guest."""
    dom = conn_a.lookupByName(name)
    xml = dom.XMLDesc(0)
    disks = sum(data_bytes(path) for _dev, path, _fmt, readonly in guest_disks(xml) if not readonly)
    return dom.maxMemory() * 1024, disks


def lo_bytes():
    with open('/sys/class/net/lo/statistics/tx_bytes') as handle:
        return int(handle.read())


# -- ours --------------------------------------------------------------------------

def job_events(uuid):
    """(job seconds as the migrate step measured it, UTC times of its
    ``live_migration`` and ``live_migrated`` action events)."""
    with open(os.path.join(ROOT, '_records', uuid + '.actions.jsonl')) as handle:
        events = [json.loads(line) for line in handle if line.strip()]
    began = [e for e in events if e['event'] == 'live_migration'][-1]
    ended = [e for e in events if e['event'] == 'live_migrated'][-1]
    return ended['seconds'], stamp(began['time']), stamp(ended['time'])


def run_ours(name, uuid, inventory):
    """(playbook wall seconds, job seconds, seconds of the playbook before
    the job began, seconds after it ended)."""
    cmd = ['ansible-playbook', '-i', inventory, PLAYBOOK, '-e', 'instance=' + name, '-e', 'source_host=hostA',
           '-e', 'dest_host=hostB']
    utc_start, start = datetime.datetime.utcnow(), time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    wall, utc_end = time.monotonic() - start, datetime.datetime.utcnow()
    if proc.returncode != 0:
        raise SystemExit('%s failed:\n%s' % (' '.join(cmd), proc.stdout.decode()))
    job, began, ended = job_events(uuid)
    return wall, job, (began - utc_start).total_seconds(), (utc_end - ended).total_seconds()


# -- bare --------------------------------------------------------------------------

def bare_base(base, cache):
    """A copy of the base image in B's directory, made once."""
    copy = os.path.join(cache, os.path.basename(base))
    if not os.path.exists(copy):
        copy_to_b(base, copy)
    return copy


def image_info(path):
    out = subprocess.run(['qemu-img', 'info', '-U', '--output=json', path], capture_output=True, text=True,
                         check=True).stdout
    return json.loads(out)


def prepare_bare(name, uuid, workdir):
    """The destination's disks, config drive and XML made by hand on B; the XML's path."""
    src_dir, dst_dir = os.path.join(ROOT, uuid), os.path.join(B_ROOT, uuid)
    cache = os.path.join(B_ROOT, '_bare_base')
    as_b(['mkdir', '-p', dst_dir, cache])
    xml = subprocess.run(VIRSH + ['dumpxml', '--migratable', name], capture_output=True, text=True, check=True).stdout
    for _dev, path, fmt, readonly in guest_disks(xml):
        dest = path.replace(src_dir, dst_dir)
        if readonly:
            copy_to_b(path, dest)
            continue
        info = image_info(path)
        size = str(info['virtual-size'])
        if fmt == 'qcow2':
            backing = info.get('full-backing-filename')
            extra = ['-F', info.get('backing-filename-format', 'qcow2'), '-b', bare_base(backing, cache)] if backing else []
            as_b(['qemu-img', 'create', '-q', '-f', 'qcow2'] + extra + [dest, size])
        else:
            as_b(['truncate', '-s', size, dest])
    xml = xml.replace(src_dir, dst_dir).replace('<nl:host>hostA</nl:host>', '<nl:host>hostB</nl:host>')
    xml_path = os.path.join(workdir, name + '.xml')
    with open(xml_path, 'w') as handle:
        handle.write(xml)
    return xml_path


def run_bare(name, xml_path):
    """Seconds of ``virsh migrate`` alone."""
    cmd = VIRSH + ['migrate', '--live', '--p2p', '--copy-storage-inc', '--persistent', '--undefinesource',
                   '--xml', xml_path, '--persistent-xml', xml_path, '--migrateuri', 'tcp://%s'
                   % os.environ['NOVALITE_HOSTB_SSH_HOST'], name, b_peer_uri()]
    start = time.monotonic()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


# -- one pair ----------------------------------------------------------------------

def measure(which, name, uuid, ctx):
    """Move one ready guest A->B the ``which`` way; its figures."""
    memory, disks = to_move(ctx['conn_a'], name)
    before = last_tick(os.path.join(ROOT, uuid, 'console.log'))[0]
    prepared = time.monotonic()
    if which == 'bare':
        xml_path = prepare_bare(name, uuid, ctx['workdir'])
    prepared = time.monotonic() - prepared
    os.sync()       # nobody pays for another's writeback
    wire = lo_bytes()
    if which == 'ours':
        total, job, head, tail = run_ours(name, uuid, ctx['inventory'])
    else:
        total = job = run_bare(name, xml_path)
        head = tail = 0.0
    wire = lo_bytes() - wire
    src = ctx['events'].wait(name)
    dst = dest_completed_stats(ctx['conn_b'], name)
    after = wait_tick_after(os.path.join(B_ROOT, uuid, 'console.log'), before)
    remove_domain(ctx['conn_b'], name)
    return {'total': total, 'job': job, 'elapsed': src.get('time_elapsed', 0) / 1000.0,
            'downtime': dst.get('downtime'), 'src_downtime': src.get('downtime'),
            'memory_processed': src.get('memory_processed', 0), 'disk_processed': src.get('disk_processed', 0),
            'dst_memory_processed': dst.get('memory_processed', 0), 'memory': memory, 'disks': disks,
            'wire': wire, 'ticks': (before, after), 'prepared': prepared,
            'head': head, 'tail': tail}


def pair(n, url, virt_type, ctx):
    names = {'ours': 'bench-live-ours-%d' % n, 'bare': 'bench-live-bare-%d' % n}
    uuids = dict((which, spawn(ctx['conn_a'], name, url, virt_type)) for which, name in names.items())
    ctx['created'].extend((names[w], uuids[w]) for w in names)
    for which in names:
        wait_dirty(os.path.join(ROOT, uuids[which], 'console.log'))
    order = ('bare', 'ours') if n % 2 == 0 else ('ours', 'bare')
    row = dict((which, measure(which, names[which], uuids[which], ctx)) for which in order)
    print_pair(n, row, order)
    return row


def print_pair(n, row, order):
    ours, bare = row['ours'], row['bare']
    print('run %d (%s first): total/bare %.2fx, job/bare %.2fx, downtime ours %s ms, bare %s ms'
          % (n + 1, order[0], ours['total'] / bare['total'], ours['job'] / bare['total'], ours['downtime'],
             bare['downtime']))
    print('    ours: playbook %.2fs = %.2fs before the job + job %.2fs (libvirt time_elapsed %.2fs) + %.2fs after'
          % (ours['total'], ours['head'], ours['job'], ours['elapsed'], ours['tail']))
    print('    bare: virsh migrate %.2fs (libvirt time_elapsed %.2fs); its destination files made by hand '
          'before, in %.2fs, not timed' % (bare['total'], bare['elapsed'], bare['prepared']))
    for which in ('ours', 'bare'):
        r = row[which]
        print('    %s: libvirt moved memory %.1f MiB + disk %.1f MiB, of %.1f MiB memory + %.1f MiB disk data; '
              'loopback %.1f MiB; guest ticks %d -> %d' % (which, r['memory_processed'] / MiB, r['disk_processed'] / MiB,
                                                           r['memory'] / MiB, r['disks'] / MiB, r['wire'] / MiB,
                                                           r['ticks'][0], r['ticks'][1]), flush=True)


# -- report ------------------------------------------------------------------------

def med(rows, which, key):
    return statistics.median(r[which][key] for r in rows)


def moved_ratio(r):
    return (r['memory_processed'] + r['disk_processed']) / float(r['memory'] + r['disks'])


def report(rows):
    repeat = len(rows)
    print('%-52s %12s %12s %8s %8s' % ('live migration A->B (median of %d)' % repeat, 'ours', 'bare', 'ratio', 'target'))
    table = [
        ('total (playbook) vs virsh migrate', med(rows, 'ours', 'total'), med(rows, 'bare', 'total'), '1.1x', '%11.2fs'),
        ('migrate step job vs virsh migrate', med(rows, 'ours', 'job'), med(rows, 'bare', 'total'), '-', '%11.2fs'),
        ('libvirt job time_elapsed, ours vs bare', med(rows, 'ours', 'elapsed'), med(rows, 'bare', 'elapsed'), '-',
         '%11.2fs'),
        ('downtime (destination stats), ours vs bare', med(rows, 'ours', 'downtime'), med(rows, 'bare', 'downtime'),
         '1.0x', '%10dms'),
        ('downtime (source event), ours vs bare', med(rows, 'ours', 'src_downtime'), med(rows, 'bare', 'src_downtime'),
         '1.0x', '%10dms'),
        ('loopback bytes during the move, ours vs bare', med(rows, 'ours', 'wire'), med(rows, 'bare', 'wire'), '-',
         '%12d'),
    ]
    for label, ours, bare, target, number in table:
        print(('%-52s ' + number + ' ' + number + ' %7.2fx %8s') % (label, ours, bare, ours / bare, target))
    print('ours\' playbook around the job (median): %.2fs before it (Ansible, start, prep, files sent ahead), '
          '%.2fs after it (hand-over, source copy removed, finish, Ansible)' % (med(rows, 'ours', 'head'), med(rows, 'ours', 'tail')))
    per_run = statistics.median(r['ours']['total'] / r['bare']['total'] for r in rows)
    print('%-52s %12s %12s %7.2fx %8s' % ('total vs virsh migrate, median of per-run ratios', '', '', per_run, '1.1x'))
    for which in ('ours', 'bare'):
        allocated = med(rows, which, 'memory') + med(rows, which, 'disks')
        print('%s: bytes to move %d (memory %d + disk data %d); libvirt processed %d (memory %d, disk %d): %.2fx; '
              'loopback %d: %.2fx (target <= 1.1x)'
              % (which, allocated, med(rows, which, 'memory'), med(rows, which, 'disks'),
                 med(rows, which, 'memory_processed') + med(rows, which, 'disk_processed'),
                 med(rows, which, 'memory_processed'), med(rows, which, 'disk_processed'),
                 statistics.median(moved_ratio(r[which]) for r in rows), med(rows, which, 'wire'),
                 statistics.median(r[which]['wire'] / float(r[which]['memory'] + r[which]['disks']) for r in rows)))


# -- main --------------------------------------------------------------------------

def cleanup(ctx):
    for name, uuid in ctx['created']:
        for conn in (ctx['conn_a'], ctx['conn_b']):
            try:
                remove_domain(conn, name)
            except libvirt.libvirtError as exc:
                print('cleanup: %s: %s' % (name, exc))
    subprocess.run(['runuser', '-u', b_user(), '--', 'rm', '-rf', B_ROOT], check=False)
    shutil.rmtree(B_ROOT, ignore_errors=True)
    shutil.rmtree(ROOT, ignore_errors=True)
    shutil.rmtree(ctx['workdir'], ignore_errors=True)


def main():
    repeat, virt_type, url = setup(ROOT)
    start_event_loop()
    ctx = {'conn_a': libvirt.open('qemu:///system'), 'conn_b': libvirt.open(B_LOCAL_URI), 'created': [],
           'workdir': tempfile.mkdtemp(prefix='bench-live-')}
    ctx['events'] = JobEvents(ctx['conn_a'])
    ctx['inventory'] = write_inventory(ctx['workdir'])
    as_b(['mkdir', '-p', B_ROOT])
    began = time.monotonic()
    try:
        rows = [pair(n, url, virt_type, ctx) for n in range(repeat)]
        report(rows)
    finally:
        cleanup(ctx)
    print('benchmark ran %.0fs' % (time.monotonic() - began))


if __name__ == '__main__':
    main()
