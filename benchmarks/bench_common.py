"""Helpers shared by the benchmark scripts: run a module through Ansible,
read operation times from an instance's action log, time bare commands."""

import argparse
import datetime
import json
import os
import shutil
import subprocess
import time

VIRSH = ['virsh', '-q', '-c', 'qemu:///system']


def module(name, args):
    """Run novalite.compute.<name> on localhost; exit with its output on failure."""
    proc = subprocess.run(['ansible', 'localhost', '-m', 'novalite.compute.%s' % name, '-a', json.dumps(args)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False,
                          env=dict(os.environ, ANSIBLE_LOCALHOST_WARNING='false'))
    if proc.returncode != 0:
        raise SystemExit(proc.stdout.decode())


def stamp(text):
    return datetime.datetime.strptime(text, '%Y-%m-%dT%H:%M:%S.%fZ')


def action_seconds(actions_file, action, until='finish'):
    """Seconds from the newest ``action start`` entry to the ``until`` entry after it."""
    with open(actions_file) as handle:
        entries = [json.loads(line) for line in handle if line.strip()]
    starts = [e for e in entries if e['action'] == action and e['event'] == 'start']
    ends = [e for e in entries if e['action'] == action and e['event'] == until]
    return (stamp(ends[-1]['time']) - stamp(starts[-1]['time'])).total_seconds()


def newest_actions_file(instances_path):
    records = os.path.join(instances_path, '_records')
    logs = sorted((os.path.getmtime(os.path.join(records, f)), f) for f in os.listdir(records) if f.endswith('.jsonl'))
    return os.path.join(records, logs[-1][1])


def timed(cmd_list):
    start = time.monotonic()
    for cmd in cmd_list:
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - start


def setup(root):
    """Parse --repeat, recreate ``root`` (QEMU must traverse it) and return
    (repeat, virt_type, test image URL)."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--repeat', type=int, default=3)
    opts = parser.parse_args()
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    os.chmod(root, 0o755)
    return opts.repeat, os.environ.get('NOVALITE_VIRT_TYPE', 'kvm'), 'file://' + os.environ['NOVALITE_TEST_IMAGE']
