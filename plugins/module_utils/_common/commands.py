# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one runner for external commands (qemu-img, genisoimage, mkfs, mkswap).

Argument lists only (never a shell); a failure raises ``CommandError`` with
the command's stderr. Optional resource limits protect the host from hostile
images (Nova runs ``qemu-img info`` under prlimit for the same reason).
"""

from __future__ import annotations

import os
import resource
import subprocess

from ansible.module_utils.common.process import get_bin_path

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import CommandError


def _limiter(address_space=None, cpu_seconds=None):
    if address_space is None and cpu_seconds is None:
        return None

    def apply():
        if address_space is not None:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
        if cpu_seconds is not None:
            resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
    return apply


# Tools such as mkswap and mkfs.ext4 live in sbin, which a non-root user's
# PATH (an SSH login, say) often lacks: searched after PATH, in this order.
SBIN_DIRS = ('/usr/local/sbin', '/usr/sbin', '/sbin')


def find_command(name):
    """The path of ``name`` in PATH, else in SBIN_DIRS; None when in neither.
    get_bin_path searches its ``opt_dirs`` before PATH, so PATH leads them."""
    search = os.environ.get('PATH', os.defpath).split(os.pathsep) + list(SBIN_DIRS)
    try:
        return get_bin_path(name, opt_dirs=search)
    except ValueError:
        return None


def run(argv, what, ok_codes=(0,), address_space=None, cpu_seconds=None, timeout=None):
    """Run ``argv``; return (returncode, stdout). Raise unless rc in ok_codes.
    ``timeout``: wall-clock seconds, after which the command is killed."""
    program = find_command(argv[0])
    if program is None:
        raise CommandError('%s: command %s not found on this host' % (what, argv[0]))
    try:
        proc = subprocess.run([program] + list(argv[1:]), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              preexec_fn=_limiter(address_space, cpu_seconds), check=False, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise CommandError('%s did not finish within %ss and was killed' % (what, timeout))
    stdout = proc.stdout.decode('utf-8', 'replace')
    if proc.returncode not in ok_codes:
        stderr = proc.stderr.decode('utf-8', 'replace').strip()
        raise CommandError('%s failed (exit %s): %s' % (what, proc.returncode, stderr or stdout.strip()))
    return proc.returncode, stdout
