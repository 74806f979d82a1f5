# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The program the ``novalite.compute.instances`` inventory plugin runs on a
hypervisor (``python3 -c``, over SSH or on this machine) to read its
instance records: every ``<instances_path>/_records/*.json``, in name
order, printed as one JSON list on stdout; a file that cannot be read or
is not JSON is left out.

It reads without the record store's lock, and imports only the standard
library and runs on any Python 3 (no ``from __future__`` import: Python 3.6
hypervisors run it too): the plugin ships the source of this file,
so nothing has to be installed on the hypervisor. Writing and locking
records is ``records.py``'s job, on the hypervisor itself.
"""

import glob
import json
import os
import sys


def read_records(root):
    """The records under ``root``, as parsed JSON, in file name order."""
    records = []
    for path in sorted(glob.glob(os.path.join(root, '_records', '*.json'))):
        try:
            with open(path) as handle:
                records.append(json.load(handle))
        except (OSError, ValueError):
            pass
    return records


def main(argv=None):
    """``python3 -c <this file> <instances_path>``: print the records as JSON."""
    argv = sys.argv if argv is None else argv
    sys.stdout.write(json.dumps(read_records(argv[1])) + '\n')


if __name__ == '__main__':
    main()
