# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""qemu-img, called with argument lists, JSON output parsed (never text)."""

from __future__ import annotations

import json

from ansible_collections.novalite.compute.plugins.module_utils._common.commands import run
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import CommandError

QEMU_IMG = 'qemu-img'
# Limits for inspecting untrusted images (as Nova's QEMU_IMG_LIMITS), and a
# wall clock: a hostile image must not hold a spawn and its locks forever.
INSPECT_ADDRESS_SPACE = 1 << 30
INSPECT_CPU_SECONDS = 30
INSPECT_WALL_SECONDS = 120


def _json(stdout, what):
    try:
        return json.loads(stdout)
    except ValueError:
        raise CommandError('%s: qemu-img did not print JSON' % what)


def pinned(path, fmt):
    """``path`` opened as ``fmt`` through the plain file protocol, with no
    backing file ever opened (a ``json:`` image spec): nothing in the image
    can make qemu-img open another file or connect anywhere."""
    spec = {'driver': fmt, 'file': {'driver': 'file', 'filename': path}}
    if fmt == 'qcow2':
        spec['backing'] = None
    return 'json:' + json.dumps(spec, sort_keys=True)


def info(path, fmt):
    """``qemu-img info --output=json`` of ``path`` read as ``fmt`` (never
    probed, no backing file opened), under the inspection limits. ``-U``
    reads images a running guest holds open (shared bases)."""
    what = 'qemu-img info %s' % path
    _rc, out = run([QEMU_IMG, 'info', '--output=json', '-U', pinned(path, fmt)], what,
                   address_space=INSPECT_ADDRESS_SPACE, cpu_seconds=INSPECT_CPU_SECONDS,
                   timeout=INSPECT_WALL_SECONDS)
    return _json(out, what)


def check(path, fmt):
    """``qemu-img check --output=json`` (as ``info``: pinned, limited). Exit
    2 (corruption) and 3 (leaks) still print the report, which is returned;
    the caller judges it."""
    what = 'qemu-img check %s' % path
    _rc, out = run([QEMU_IMG, 'check', '--output=json', '-U', pinned(path, fmt)], what,
                   ok_codes=(0, 2, 3), address_space=INSPECT_ADDRESS_SPACE,
                   cpu_seconds=INSPECT_CPU_SECONDS, timeout=INSPECT_WALL_SECONDS)
    return _json(out, what) if out.strip() else {}


def create(path, fmt, size_bytes, backing=None, backing_fmt=None):
    argv = [QEMU_IMG, 'create', '-q', '-f', fmt]
    if backing:
        argv += ['-b', backing, '-F', backing_fmt]
    argv.append(path)
    if size_bytes is not None:
        argv.append(str(size_bytes))
    run(argv, 'qemu-img create %s' % path)


def resize(path, fmt, size_bytes):
    run([QEMU_IMG, 'resize', '-q', '-f', fmt, path, str(size_bytes)], 'qemu-img resize %s' % path)


def convert(src, src_fmt, dst, dst_fmt):
    """Convert ``src`` read as ``src_fmt`` (pinned, no backing file opened:
    the source may be a freshly fetched, untrusted image)."""
    run([QEMU_IMG, 'convert', '-q', '-O', dst_fmt, pinned(src, src_fmt), dst],
        'qemu-img convert %s to %s' % (src, dst_fmt))


def rebase_unsafe(path, fmt, backing, backing_fmt):
    """Point a qcow2 overlay at another copy of the same backing file
    (header change only: ``qemu-img rebase -u``)."""
    run([QEMU_IMG, 'rebase', '-u', '-f', fmt, '-b', backing, '-F', backing_fmt, path],
        'qemu-img rebase %s' % path)
