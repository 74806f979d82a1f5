"""Spawn benchmarks: ratios against bare libvirt / qemu-img, measured side by
side in the same run (machines are noisy; only ratios mean anything).

    . build/novalite.env && python benchmarks/spawn_bench.py [--repeat 3]

1. warm-cache spawn (module: create start -> RUNNING, from the action log)
   vs ``virsh define`` + ``virsh start`` of the same prepared overlay and XML.
2. cache-hit spawn with a 4 GiB sparse image vs a 16 MiB one (overlay
   creation is O(1)).
3. cold fetch + inspect + convert to raw of a 1 GiB image vs ``qemu-img
   convert`` alone.
"""

import os
import shutil
import statistics
import subprocess
import tempfile

from bench_common import VIRSH, action_seconds, module, newest_actions_file, setup, timed

ROOT = '/var/lib/novalite-bench'


def create_seconds(path, until='finish'):
    """Seconds from the 'create start' entry to the ``until`` entry of the newest create."""
    return action_seconds(newest_actions_file(path), 'create', until)


def spawn(path, name, url, virt_type, state='running', **extra):
    args = {'name': name, 'instances_path': path, 'virt_type': virt_type, 'state': state,
            'flavor': {'vcpus': 1, 'memory_mb': 128}, 'image': {'url': url}, 'config_drive': False}
    args.update(extra)
    module('libvirt_instance', args)


def delete(path, name):
    module('libvirt_instance', {'name': name, 'instances_path': path, 'state': 'absent'})


def bench_warm_spawn(path, url, virt_type, repeat):
    spawn(path, 'bench-warm', url, virt_type)     # warm the cache
    delete(path, 'bench-warm')
    ours, bare = [], []
    for n in range(repeat):
        name = 'bench-warm-%d' % n
        spawn(path, name, url, virt_type)
        ours.append(create_seconds(path))
        # the same prepared overlay and XML, through bare virsh
        xml = [os.path.join(path, d, 'libvirt.xml') for d in os.listdir(path)
               if os.path.exists(os.path.join(path, d, 'libvirt.xml'))][0]
        copy = os.path.join(tempfile.mkdtemp(), 'bare.xml')
        shutil.copy(xml, copy)
        subprocess.run(VIRSH + ['destroy', name], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(VIRSH + ['undefine', name], check=True, stdout=subprocess.DEVNULL)
        bare.append(timed([VIRSH + ['define', copy], VIRSH + ['start', name]]))
        subprocess.run(VIRSH + ['destroy', name], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(VIRSH + ['undefine', name], check=True, stdout=subprocess.DEVNULL)
        delete(path, name)
    return statistics.median(ours), statistics.median(bare)


def bench_image_size(path, workdir, virt_type, repeat):
    small = os.path.join(workdir, 'small.raw')
    big = os.path.join(workdir, 'big.raw')
    for target, size in ((small, 16 * 1024 ** 2), (big, 4 * 1024 ** 3)):
        with open(target, 'wb') as handle:
            handle.truncate(size)
    results = {}
    for label, target in (('16MiB', small), ('4GiB', big)):
        url = 'file://' + target
        spawn(path, 'bench-size', url, virt_type, state='stopped')   # warm
        delete(path, 'bench-size')
        times = []
        for _n in range(repeat):
            spawn(path, 'bench-size', url, virt_type, state='stopped')
            times.append(create_seconds(path))
            delete(path, 'bench-size')
        results[label] = statistics.median(times)
    return results['4GiB'], results['16MiB']


def bench_cold_convert(path, workdir, virt_type):
    image = os.path.join(workdir, 'one-gib.qcow2')
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', image, '1G'], check=True)
    subprocess.run(['qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5a 0 1G', image], check=True,
                   stdout=subprocess.DEVNULL)
    baseline = timed([['qemu-img', 'convert', '-f', 'qcow2', '-O', 'raw', image, os.path.join(workdir, 'out.raw')]])
    os.unlink(os.path.join(workdir, 'out.raw'))
    spawn(path, 'bench-cold', 'file://' + image, virt_type, state='stopped', force_raw_images=True)
    ours = create_seconds(path, until='image_cache')
    delete(path, 'bench-cold')
    return ours, baseline


def main():
    repeat, virt_type, url = setup(ROOT)
    workdir = os.path.join(ROOT, 'images')
    os.makedirs(workdir)
    try:
        rows = []
        ours, bare = bench_warm_spawn(os.path.join(ROOT, 'warm'), url, virt_type, repeat)
        rows.append(('warm-cache spawn vs virsh define+start', ours, bare, 1.2))
        big, small = bench_image_size(os.path.join(ROOT, 'size'), workdir, virt_type, repeat)
        rows.append(('cache-hit spawn, 4 GiB vs 16 MiB image', big, small, 1.1))
        ours, bare = bench_cold_convert(os.path.join(ROOT, 'cold'), workdir, virt_type)
        rows.append(('cold fetch+inspect+convert 1 GiB vs qemu-img convert', ours, bare, 1.2))
        print('%-55s %10s %10s %7s %7s' % ('benchmark (median of %d)' % repeat, 'ours s', 'base s',
                                           'ratio', 'target'))
        for label, a, b, target in rows:
            print('%-55s %10.3f %10.3f %6.2fx %6.1fx' % (label, a, b, a / b, target))
    finally:
        shutil.rmtree(ROOT, ignore_errors=True)


if __name__ == '__main__':
    main()
