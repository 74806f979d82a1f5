# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Where things live under ``instances_path`` (one place for every file name).

    <instances_path>/
        _base/<sha1(image id)>           cached base images (Nova's _base)
        _records/<uuid>.json             the instance record
        _records/<uuid>.actions.jsonl    the append-only action log
        _locks/name-<sha1(name)>.lock    per-name lock: one instance per name
        _locks/instance-<uuid>.lock      per-instance operation lock
        _locks/image-<sha1>.lock         per-image fetch lock
        _migrations/<id>.json            migration records (Nova's migrations table)
        _migrations/<id>.abort           an abort asked of a live migration's running job
        _hosts/<sha1(compute_host)>.json this hypervisor's service state (enabled for placement or not)
        .novalite-probe-<id>             shared-storage probe of a migration
        <uuid>/                          the instance directory
            disk  disk.local  disk.swap  disk.config  disk.info
            libvirt.xml  console.log
        <uuid>_resize/                   the source copy during a resize
"""

from __future__ import annotations

import hashlib
import os
import stat

DISK_ROOT = 'disk'
DISK_LOCAL = 'disk.local'
DISK_SWAP = 'disk.swap'
DISK_CONFIG = 'disk.config'
DISK_INFO = 'disk.info'
LIBVIRT_XML = 'libvirt.xml'
CONSOLE_LOG = 'console.log'

# Nothing under instances_path is readable by other local users. Files are
# root's (QEMU gets them from libvirt's dynamic ownership when a guest
# starts); directories QEMU must traverse are searchable, not listable.
FILE_MODE = 0o640
DIR_MODE = 0o711
PRIVATE_DIR_MODE = 0o700


def restrict(path, bits):
    """Clear ``bits`` from a file's or directory's mode (never add any); a
    filesystem that refuses (root-squashed NFS) keeps its modes."""
    try:
        mode = os.lstat(path).st_mode
        if mode & bits and not stat.S_ISLNK(mode):
            os.chmod(path, stat.S_IMODE(mode) & ~bits)
    except OSError:
        pass


def tighten_tree(directory):
    """An instance (or the cache) directory that others can read, left by an
    earlier version: the directory and its files lose the others' bits."""
    try:
        mode = os.lstat(directory).st_mode
        if not stat.S_ISDIR(mode) or not mode & 0o006:
            return
        for entry in os.listdir(directory):
            restrict(os.path.join(directory, entry), 0o007)
    except OSError:
        return
    restrict(directory, 0o066)


def _entries(directory):
    try:
        return os.listdir(directory)
    except FileNotFoundError:
        return []


def filesystem_space(paths):
    """(total bytes, free bytes) of the filesystem where instances_path is
    (or will be: its nearest existing parent)."""
    where = paths.root
    while not os.path.isdir(where) and os.path.dirname(where) != where:
        where = os.path.dirname(where)
    stat = os.statvfs(where)
    return stat.f_blocks * stat.f_frsize, stat.f_bavail * stat.f_frsize


def make_traversable_parents(path):
    """Create the missing parents of ``path`` as 0755, whatever the umask."""
    missing = []
    parent = os.path.dirname(path)
    while parent and parent != os.path.dirname(parent) and not os.path.isdir(parent):
        missing.append(parent)
        parent = os.path.dirname(parent)
    for directory in reversed(missing):
        try:
            os.mkdir(directory, 0o755)
        except FileExistsError:
            continue
        os.chmod(directory, 0o755)


class InstancePaths(object):
    def __init__(self, instances_path):
        self.root = os.path.abspath(instances_path)
        self.base_dir = os.path.join(self.root, '_base')
        self.records_dir = os.path.join(self.root, '_records')
        self.locks_dir = os.path.join(self.root, '_locks')
        self.migrations_dir = os.path.join(self.root, '_migrations')
        self.hosts_dir = os.path.join(self.root, '_hosts')
        self._tightened = False

    def instance_dir(self, uuid):
        return os.path.join(self.root, uuid)

    def resize_dir(self, uuid):
        return os.path.join(self.root, uuid + '_resize')

    def instance_file(self, uuid, name):
        return os.path.join(self.instance_dir(uuid), name)

    def xml(self, uuid):
        return self.instance_file(uuid, LIBVIRT_XML)

    def console_log(self, uuid):
        return self.instance_file(uuid, CONSOLE_LOG)

    def record(self, uuid):
        return os.path.join(self.records_dir, uuid + '.json')

    def actions(self, uuid):
        return os.path.join(self.records_dir, uuid + '.actions.jsonl')

    def migration(self, migration_id):
        return os.path.join(self.migrations_dir, migration_id + '.json')

    def abort_request(self, migration_id):
        return os.path.join(self.migrations_dir, migration_id + '.abort')

    def host_service(self, compute_host):
        """The service state of the hypervisor named ``compute_host`` (hashed,
        as a name lock: on a shared instances_path every host has its own)."""
        return os.path.join(self.hosts_dir, '%s.json' % hashlib.sha1(compute_host.encode('utf-8')).hexdigest())

    def probe(self, migration_id):
        return os.path.join(self.root, '.novalite-probe-%s' % migration_id)

    def name_lock(self, name):
        """The lock of an instance name (hashed: a name may hold any character
        a file name cannot, and be longer)."""
        return os.path.join(self.locks_dir, 'name-%s.lock' % hashlib.sha1(name.encode('utf-8')).hexdigest())

    def instance_lock(self, uuid):
        return os.path.join(self.locks_dir, 'instance-%s.lock' % uuid)

    def image_lock(self, cache_name):
        return os.path.join(self.locks_dir, 'image-%s.lock' % cache_name)

    def base_image(self, cache_name):
        return os.path.join(self.base_dir, cache_name)

    def ensure_layout(self):
        """Create the top-level directories, the missing parents of the root
        traversable (0755: QEMU must reach the disks). Directories an earlier
        version left readable by others, and their files, lose the others'
        read and write bits (nothing is ever added, so an operator's tighter
        modes stay). Records, locks and migrations stay private.

        The walk over every instance directory is done once per object (a
        reconcile saves hundreds of records through one; walking them all
        on each save made it quadratic): later calls only create what is
        missing."""
        make_traversable_parents(self.root)
        if not self._tightened:
            for entry in _entries(self.root):       # before their directories lose the bits that tell
                if not entry.startswith('.') and (entry == '_base' or not entry.startswith('_')):
                    tighten_tree(os.path.join(self.root, entry))
        for path, mode in ((self.root, DIR_MODE), (self.base_dir, DIR_MODE),
                           (self.records_dir, PRIVATE_DIR_MODE), (self.locks_dir, PRIVATE_DIR_MODE),
                           (self.migrations_dir, PRIVATE_DIR_MODE), (self.hosts_dir, PRIVATE_DIR_MODE)):
            if not os.path.isdir(path):
                os.makedirs(path, mode, exist_ok=True)     # another run may make it meanwhile
                os.chmod(path, mode)
            elif not self._tightened:
                restrict(path, 0o066 if mode == DIR_MODE else 0o077)
        self._tightened = True
