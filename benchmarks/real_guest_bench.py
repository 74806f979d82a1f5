"""Real cloud guest benchmark (issue 13): the collection's own overhead next
to a real boot, measured side by side in the same run, alternating.

    . build/novalite.env && python benchmarks/real_guest_bench.py [--repeat 2]

ours: ``libvirt_instance`` (through Ansible, warm image cache, HTTP URL with a
sha256 checksum, config drive with keys and user_data) from the command's
start until cloud-init prints "finished at" on the serial console.

bare: the same steps by hand with the same files: ``qemu-img create`` of a
qcow2 overlay on the cached base image, the same config drive ISO, ``virsh
define`` of the same domain XML, ``virsh start``, until the same console line.

Prints each pair and the ratio of the medians (target <= 1.05), and, from
the uptime cloud-init prints with "finished at", how much of each run passed
before the guest's kernel started: the tools' own share, which does not
carry the guest's boot-to-boot variance.
"""

import http.server
import os
import re
import shutil
import socketserver
import statistics
import subprocess
import threading
import time

from bench_common import VIRSH, module, setup

ROOT = '/var/lib/novalite-bench-real'
HERE = os.path.dirname(os.path.abspath(__file__))
BUILD_IMAGE = os.path.join(HERE, '..', 'tests', 'images', 'build-cloud-image.sh')
FINAL = re.compile(r'Cloud-init v\. \S+ finished at .*?Up ([0-9.]+) seconds')
NAME = 'bench-real'
USER_DATA = '#cloud-config\nruncmd:\n  - echo BENCH-RUNCMD > /dev/ttyS0\n'
KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHNvbWUtYmVuY2gta2V5LW5vdC11c2VkLWZvci1sb2dpbg bench'


def serve(directory):
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *_args):
            pass

    server = socketserver.ThreadingTCPServer(('127.0.0.1', 0), lambda *a, **k: Quiet(*a, directory=directory, **k))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def wait_final(console_log, timeout=900):
    """The guest's own uptime when cloud-init reached final."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(console_log, errors='replace') as handle:
                found = FINAL.search(handle.read())
            if found:
                return float(found.group(1))
        except FileNotFoundError:
            pass
        time.sleep(0.2)
    raise SystemExit('cloud-init did not reach final within %ss: %s' % (timeout, console_log))


def instance_dir(path):
    dirs = [d for d in os.listdir(path) if not d.startswith(('_', '.'))]
    assert len(dirs) == 1, dirs
    return os.path.join(path, dirs[0])


def run_ours(path, args):
    start = time.monotonic()
    module('libvirt_instance', args)
    inst = instance_dir(path)
    uptime = wait_final(os.path.join(inst, 'console.log'))
    return time.monotonic() - start, uptime, inst


def keep_for_bare(inst, bare_dir):
    """The domain XML and the config drive the module made, with the XML's
    instance paths pointed at ``bare_dir``; the base image path."""
    shutil.rmtree(bare_dir, ignore_errors=True)
    os.makedirs(bare_dir)
    os.chmod(bare_dir, 0o755)
    shutil.copy(os.path.join(inst, 'disk.config'), os.path.join(bare_dir, 'disk.config'))
    with open(os.path.join(inst, 'libvirt.xml')) as handle:
        xml = handle.read().replace(inst + '/', bare_dir + '/')
    with open(os.path.join(bare_dir, 'domain.xml'), 'w') as handle:
        handle.write(xml)
    info = subprocess.run(['qemu-img', 'info', '-U', '--output=json', os.path.join(inst, 'disk')],
                          capture_output=True, text=True, check=True).stdout
    base = re.search(r'"full-backing-filename": "([^"]+)"', info).group(1)
    size = re.search(r'"virtual-size": (\d+)', info).group(1)
    return base, size


def run_bare(bare_dir, base, size):
    start = time.monotonic()
    subprocess.run(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', base,
                    os.path.join(bare_dir, 'disk'), size], check=True)
    subprocess.run(VIRSH + ['define', os.path.join(bare_dir, 'domain.xml')], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(VIRSH + ['start', NAME], check=True, stdout=subprocess.DEVNULL)
    uptime = wait_final(os.path.join(bare_dir, 'console.log'))
    elapsed = time.monotonic() - start
    subprocess.run(VIRSH + ['destroy', NAME], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(VIRSH + ['undefine', NAME], check=True, stdout=subprocess.DEVNULL)
    # the XML and the config drive stay for the next bare run
    for name in ('disk', 'console.log'):
        os.unlink(os.path.join(bare_dir, name))
    return elapsed, uptime


def main():
    repeat, virt_type, _tiny = setup(ROOT)
    image = subprocess.run(['bash', BUILD_IMAGE], capture_output=True, text=True, check=True).stdout.split()[-1]
    www = os.path.join(ROOT, 'www')
    os.makedirs(www)
    shutil.copy(image, os.path.join(www, 'debian-12.qcow2'))
    digest = subprocess.run(['sha256sum', os.path.join(www, 'debian-12.qcow2')], capture_output=True, text=True,
                            check=True).stdout.split()[0]
    server = serve(www)
    path = os.path.join(ROOT, 'instances')
    args = {'name': NAME, 'instances_path': path, 'virt_type': virt_type,
            'flavor': {'vcpus': 1, 'memory_mb': 512, 'root_gb': 2}, 'key_data': [KEY], 'user_data': USER_DATA,
            'image': {'url': 'http://127.0.0.1:%d/debian-12.qcow2' % server.server_address[1],
                      'checksum': 'sha256:' + digest}}
    absent = {'name': NAME, 'instances_path': path, 'state': 'absent'}
    module('libvirt_instance', dict(args, state='stopped'))   # warm the image cache
    module('libvirt_instance', absent)
    bare_dir = os.path.join(ROOT, 'bare')
    # the bare run needs the files of an earlier spawn: one to start with
    _seconds, _up, inst = run_ours(path, args)
    base, size = keep_for_bare(inst, bare_dir)
    module('libvirt_instance', absent)
    ours, bare = [], []
    for n in range(repeat):
        # alternate which goes first, so that neither always runs on a warmer machine
        order = ('bare', 'ours') if n % 2 == 0 else ('ours', 'bare')
        for which in order:
            if which == 'ours':
                seconds, uptime, inst = run_ours(path, args)
                ours.append((seconds, uptime))
                base, size = keep_for_bare(inst, bare_dir)
                module('libvirt_instance', absent)
            else:
                bare.append(run_bare(bare_dir, base, size))
        print('run %d: ours %.1fs (guest up %.1fs at final, so %.1fs before the guest ran)  '
              'bare %.1fs (guest up %.1fs, %.1fs before)'
              % (n + 1, ours[-1][0], ours[-1][1], ours[-1][0] - ours[-1][1],
                 bare[-1][0], bare[-1][1], bare[-1][0] - bare[-1][1]), flush=True)
    server.shutdown()
    total = statistics.median(o[0] for o in ours) / statistics.median(b[0] for b in bare)
    before_ours = statistics.median(o[0] - o[1] for o in ours)
    before_bare = statistics.median(b[0] - b[1] for b in bare)
    print('spawn to cloud-init final (warm cache, %s): ours %.1fs, bare qemu-img+virsh %.1fs, ratio %.3f '
          '(target <= 1.05)' % (virt_type, statistics.median(o[0] for o in ours),
                                statistics.median(b[0] for b in bare), total))
    print('time before the guest kernel runs (the tools\' own share): ours %.2fs, bare %.2fs; '
          'the rest is the guest booting (its own uptime varies by several seconds from boot to boot)'
          % (before_ours, before_bare))


if __name__ == '__main__':
    main()
