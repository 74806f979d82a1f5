"""What the e2e guests run, and how their console output is read.

Every guest gets the same #cloud-config user_data:

* runcmd (first boot only) prints ``E2E-RUNCMD``, the fingerprint of every
  key in the default user's authorized_keys (``E2E-KEY <bits> SHA256:...``),
  then writes 64 MiB of random data and its sha256 to /var/lib/e2e, syncs,
  and prints ``E2E-DATA-WRITTEN <sha256>``;
* a per-boot script (cloud-init's scripts-per-boot, which runs after
  growpart and resizefs on every boot) prints the boot id, the instance id
  and hostname cloud-init took, the size of the root filesystem, and
  re-verifies the data file from inside: ``E2E-DATA-OK <sha256>`` or
  ``E2E-DATA-BAD``.

cloud-init itself prints ``Cloud-init v. ... finished at ... Datasource
DataSourceConfigDrive [...]`` when it reaches its final stage.
"""

import re
import subprocess

DEFAULT_USER = 'debian'

USER_DATA = r"""#cloud-config
write_files:
  - path: /var/lib/cloud/scripts/per-boot/e2e-report.sh
    permissions: '0755'
    content: |
      #!/bin/sh
      say() { echo "$*" > /dev/ttyS0; }
      say "E2E-BOOT-ID $(cat /proc/sys/kernel/random/boot_id)"
      say "E2E-INSTANCE-ID $(cat /var/lib/cloud/data/instance-id)"
      say "E2E-HOSTNAME $(hostname)"
      say "E2E-ROOT-BYTES $(df -B1 --output=size / | tail -n 1 | tr -d ' ')"
      if [ -f /var/lib/e2e/data.sha256 ]; then
          if (cd /var/lib/e2e && sha256sum --quiet -c data.sha256); then
              say "E2E-DATA-OK $(cut -c1-64 /var/lib/e2e/data.sha256)"
          else
              say "E2E-DATA-BAD"
          fi
      fi
runcmd:
  - echo E2E-RUNCMD > /dev/ttyS0
  - ssh-keygen -l -f /home/debian/.ssh/authorized_keys | sed 's/^/E2E-KEY /' > /dev/ttyS0
  - mkdir -p /var/lib/e2e
  - head -c 64M /dev/urandom > /var/lib/e2e/data
  - cd /var/lib/e2e && sha256sum data > data.sha256 && sync
  - echo "E2E-DATA-WRITTEN $(cut -c1-64 /var/lib/e2e/data.sha256)" > /dev/ttyS0
"""

FINAL = r'Cloud-init v\. \S+ finished at .*Datasource (\S+)[^\n]*\n'
BOOT_ID = r'E2E-BOOT-ID (\S+)'
DATA_WRITTEN = r'E2E-DATA-WRITTEN ([0-9a-f]{64})'
DATA_OK = r'E2E-DATA-(OK ([0-9a-f]{64})|BAD)'
ROOT_BYTES = r'E2E-ROOT-BYTES (\d+)'


def fingerprint(public_key_file):
    """``SHA256:...`` of a public key, as ssh-keygen prints it in the guest."""
    out = subprocess.run(['ssh-keygen', '-l', '-f', public_key_file], capture_output=True, text=True,
                         check=True).stdout
    return out.split()[1]


def new_key(path):
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', 'e2e', '-f', path], check=True)
    with open(path + '.pub') as handle:
        return handle.read().strip()


def mark(console):
    """Boots from now on count as new."""
    console.mark(FINAL, BOOT_ID)


def boot_report(console, host, new=True):
    """Wait for a boot on ``host`` that reached cloud-init final (with
    ``new``, one after the last mark; else the newest), and return what it
    printed: datasource, boot id, instance id, hostname, root size, the data
    check (its sha256, 'BAD', or None when there was nothing to check yet) and
    its console text."""
    text = console.boot(host, FINAL, BOOT_ID, new)
    report = {'datasource': re.search(FINAL, text).group(1), 'text': text}
    for key, pattern in (('boot_id', BOOT_ID), ('instance_id', r'E2E-INSTANCE-ID (\S+)'),
                         ('hostname', r'E2E-HOSTNAME (\S+)'), ('root_bytes', ROOT_BYTES)):
        found = re.findall(pattern, text)
        report[key] = found[-1] if found else None
    data = re.findall(DATA_OK, text)
    report['data'] = None if not data else (data[-1][1] or 'BAD')
    written = re.findall(DATA_WRITTEN, text)
    report['written'] = written[-1] if written else None
    return report
