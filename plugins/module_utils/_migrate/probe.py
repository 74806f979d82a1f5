# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared-storage probe of a move (Nova's _is_path_shared_with): a file
``.novalite-probe-<migration id>`` in instances_path naming the host that
wrote it. A live migration's source writes it at start; the destination
finds it only when both see one directory, and then writes its own name
into it, which the source reads back at migrate.
"""

from __future__ import annotations

import os


def read_probe(path):
    """The host name a probe file holds, or None when there is none (or it
    is empty: a write cut short)."""
    try:
        with open(path) as handle:
            return handle.read().strip() or None
    except FileNotFoundError:
        return None


def write_probe(path, host):
    with open(path, 'w') as handle:
        handle.write(host + '\n')
        handle.flush()
        os.fsync(handle.fileno())


def remove_probe(path, host=None):
    """Remove the probe (only when it names ``host``, if given)."""
    if os.path.exists(path) and (host is None or read_probe(path) == host):
        os.unlink(path)
