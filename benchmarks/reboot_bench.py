"""Reboot benchmarks: ratios against bare libvirt, measured side by side on
the same guest in the same run (machines are noisy; only ratios mean
anything).

    . build/novalite.env && python benchmarks/reboot_bench.py [--repeat 3]

1. hard reboot (module: reboot start -> RUNNING, from the action log; it
   regenerates the XML, checks the disks, undefines, defines, starts)
   vs ``virsh destroy && virsh start``.
2. soft reboot (ACPI button, wait for shut off, start, RUNNING) vs the
   guest's own ACPI shutdown and boot driven by ``virsh shutdown``, polling
   until shut off, and ``virsh start``.
Before every measurement the guest has finished booting (GUEST-READY on its
serial console), so it is listening for the power button.
"""

import os
import shutil
import statistics
import subprocess
import time

from bench_common import VIRSH, action_seconds, module, setup, timed

ROOT = '/var/lib/novalite-bench-reboot'
NAME = 'bench-reboot'


def wait_ready(console_log, count, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(console_log):
            with open(console_log, errors='replace') as handle:
                if handle.read().count('GUEST-READY') >= count:
                    return
        time.sleep(0.1)
    raise SystemExit('guest did not reach GUEST-READY #%d' % count)


def domain_state():
    return subprocess.run(VIRSH + ['domstate', NAME], check=True, capture_output=True, text=True).stdout.strip()


def bare_acpi_cycle():
    start = time.monotonic()
    subprocess.run(VIRSH + ['shutdown', NAME], check=True, stdout=subprocess.DEVNULL)
    while domain_state() != 'shut off':
        time.sleep(0.1)
    subprocess.run(VIRSH + ['start', NAME], check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def main():
    repeat, virt_type, url = setup(ROOT)
    common = {'name': NAME, 'instances_path': ROOT}
    try:
        module('libvirt_instance', dict(common, virt_type=virt_type, flavor={'vcpus': 1, 'memory_mb': 128},
                                        image={'url': url}, config_drive=False))
        records = os.path.join(ROOT, '_records')
        actions = [os.path.join(records, f) for f in os.listdir(records) if f.endswith('.jsonl')][0]
        uuid = os.path.basename(actions).split('.')[0]
        console_log = os.path.join(ROOT, uuid, 'console.log')
        boots = 1
        wait_ready(console_log, boots)

        hard, destroy_start, soft, acpi = [], [], [], []
        for _n in range(repeat):
            module('instance_reboot', dict(common, type='hard'))
            hard.append(action_seconds(actions, 'reboot'))
            boots += 1
            wait_ready(console_log, boots)
            destroy_start.append(timed([VIRSH + ['destroy', NAME], VIRSH + ['start', NAME]]))
            boots += 1
            wait_ready(console_log, boots)
            module('instance_reboot', dict(common, type='soft', soft_timeout=60))
            soft.append(action_seconds(actions, 'reboot'))
            boots += 1
            wait_ready(console_log, boots)
            acpi.append(bare_acpi_cycle())
            boots += 1
            wait_ready(console_log, boots)

        rows = [
            ('hard reboot vs virsh destroy && virsh start', statistics.median(hard),
             statistics.median(destroy_start), 1.3),
            ('soft reboot vs guest ACPI shutdown + virsh start', statistics.median(soft),
             statistics.median(acpi), None),
        ]
        print('%-52s %10s %10s %7s %7s' % ('benchmark (median of %d)' % repeat, 'ours s', 'base s',
                                           'ratio', 'target'))
        for label, ours, base, target in rows:
            shown = '%.1fx' % target if target else '-'
            print('%-52s %10.3f %10.3f %6.2fx %7s' % (label, ours, base, ours / base, shown))
    finally:
        module('libvirt_instance', dict(common, state='absent'))
        shutil.rmtree(ROOT, ignore_errors=True)


if __name__ == '__main__':
    main()
