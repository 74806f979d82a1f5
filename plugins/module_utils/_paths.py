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
        .novalite-probe-<id>             shared-storage probe of a migration
        <uuid>/                          the instance directory
            disk  disk.local  disk.swap  disk.config  disk.info
            libvirt.xml  console.log
        <uuid>_resize/                   the source copy during a resize
"""

from __future__ import annotations

import hashlib
import os

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


class InstancePaths(object):
    def __init__(self, instances_path):
        self.root = os.path.abspath(instances_path)
        self.base_dir = os.path.join(self.root, '_base')
        self.records_dir = os.path.join(self.root, '_records')
        self.locks_dir = os.path.join(self.root, '_locks')
        self.migrations_dir = os.path.join(self.root, '_migrations')

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
        """Create the top-level directories (and tighten ones an earlier
        version made 0755). The instance tree must be traversable by the QEMU
        user (DIR_MODE); records, locks and migrations stay private."""
        for path, mode in ((self.root, DIR_MODE), (self.base_dir, DIR_MODE),
                           (self.records_dir, PRIVATE_DIR_MODE), (self.locks_dir, PRIVATE_DIR_MODE),
                           (self.migrations_dir, PRIVATE_DIR_MODE)):
            if not os.path.isdir(path):
                os.makedirs(path, mode)
            if os.stat(path).st_mode & 0o777 != mode:
                os.chmod(path, mode)
