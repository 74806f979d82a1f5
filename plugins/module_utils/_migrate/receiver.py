# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The receiving end of a disk transfer: a program that the sender runs on
the destination with ``python3 -c`` (over SSH, or locally when the storage
is shared), its source being this file, read by ``transfer.py`` at run
time. It needs only the standard library (Python 3.6 or later, so no
``from __future__`` import) and imports
nothing of the collection, so nothing has to be installed on the
destination beyond Python. ``main()`` runs it as a script; ``Receiver``
serves one stream, which the unit tests drive in-process.

Protocol (sender -> receiver on stdin; receiver -> sender, one line each):

    F <u32 n> <n bytes JSON {name, size, mode, skip_if_exists, fsync}>  ->  SEND | SKIP
    D <u64 offset> <u32 n> <n bytes of data>                       (repeated)
    E <u32 n> <n bytes JSON {sha256}>                            ->  OK <sha256> <bytes> | ERR <why>
    Q                                                            (end)

``name`` is relative to the destination root: plain components, none of
them empty, ``.`` or ``..``. Data goes to ``<name>.part``, which is
truncated to ``size`` first (holes stay holes). The receiver hashes what it
writes (sha256 over offset, length and bytes of each range, in order);
writeback is left to the kernel, as cp and rsync leave it. At ``E``, only
when that digest equals the sender's is the file renamed into place; with
``fsync`` (records) the file and its directory are fsynced first. Disk
images are made durable later, by the destination's confirm, before the
source copy may be removed. Anything else removes the partial file; so does
a broken stream.

Nothing below the root is trusted to be what its name says. The root is
opened once (it may itself be a symlink: the operator chose that path);
every path under it is reached from that directory descriptor one
component at a time, never following a symlink: a directory is opened with
``O_NOFOLLOW | O_DIRECTORY``, a missing one is created, the partial file is
created with ``O_CREAT | O_EXCL | O_NOFOLLOW`` after any entry already
under its name was unlinked (a link is removed, not what it points to), and
the rename happens between directory descriptors (it would replace a link,
never write through it). A symlink met anywhere below the root, the target
name included, ends the transfer with ``ERR refusing symlink <name> under
<root>``; ``skip_if_exists`` looks at the name itself (lstat), so a link
never counts as an existing file.

The declared ``mode`` is masked with 0o660: no setuid, setgid or sticky
bit, nothing for other users. Directories the receiver creates are 0o700
for ``_records`` and ``_migrations`` and 0o711 otherwise (the qemu user can
traverse them, other users cannot list them); directories that already
exist keep their mode.

A base image and its sidecar (``_base/<name>`` and ``_base/<name>.json``)
are received under that image's cache lock (``_locks/image-<name>.lock``,
the lock the destination's image cache takes): a fetch of the same image
on the destination, or state_reconcile's removal of partial files, never
meets a file being received, and ``skip_if_exists`` is decided under it.
"""

import fcntl
import hashlib
import json
import os
import stat
import struct
import sys

FILE_MODES = 0o660                  # at most rw for owner and group, never a special bit
PRIVATE_DIRS = ('_records', '_migrations', '_locks')
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
PART_FLAGS = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class Refused(Exception):
    pass


def components(name):
    """The components of a name relative to the root; refused unless plain."""
    parts = name.split('/') if isinstance(name, str) else ['']
    if any(part in ('', '.', '..') for part in parts):
        raise Refused('refusing path %r' % name)
    return parts


def lstat_at(dir_fd, name):
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


class Receiver(object):
    """Receives the frames of one stream (``inp``, binary) into ``root``,
    answering on ``out`` (text)."""

    def __init__(self, root, inp, out):
        self.root = root
        self.inp = inp
        self.out = out
        self.root_dir = None
        self.buffer = bytearray(4 << 20)

    def read(self, n):
        data = self.inp.read(n)
        if data is None or len(data) != n:
            raise EOFError('stream ended')
        return data

    def read_into(self, n):
        if n > len(self.buffer):
            self.buffer.extend(bytes(n - len(self.buffer)))
        view = memoryview(self.buffer)[:n]
        got = 0
        while got < n:
            count = self.inp.readinto(view[got:])
            if not count:
                raise EOFError('stream ended')
            got += count
        return view

    def reply(self, text):
        self.out.write(text + '\n')
        self.out.flush()

    def root_fd(self):
        """The root, opened once; created (0o711) when it does not exist."""
        if self.root_dir is None:
            try:
                self.root_dir = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except FileNotFoundError:
                os.makedirs(self.root, 0o711, exist_ok=True)
                self.root_dir = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        return self.root_dir

    def refuse_if_odd(self, dir_fd, name, shown, want_dir):
        info = lstat_at(dir_fd, name)
        if info is not None and stat.S_ISLNK(info.st_mode):
            raise Refused('refusing symlink %s under %s' % (shown, self.root))
        if want_dir and info is not None and not stat.S_ISDIR(info.st_mode):
            raise Refused('refusing %s under %s: not a directory' % (shown, self.root))

    def open_dir(self, parent_fd, name, shown):
        """The directory ``name`` in ``parent_fd``, created if missing, never through a link."""
        try:
            return os.open(name, DIR_FLAGS, dir_fd=parent_fd)
        except FileNotFoundError:
            pass
        except OSError:
            self.refuse_if_odd(parent_fd, name, shown, True)
            raise
        mode = 0o700 if name in PRIVATE_DIRS else 0o711
        try:
            os.mkdir(name, mode, dir_fd=parent_fd)
            created = True
        except FileExistsError:         # made meanwhile by someone else: keep its mode
            created = False
        try:
            fd = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
        except OSError:
            self.refuse_if_odd(parent_fd, name, shown, True)
            raise
        if created:
            os.fchmod(fd, mode)         # exactly, whatever the umask
        return fd

    def open_parent(self, parts):
        """A descriptor of the directory that holds ``parts[-1]``."""
        fd = os.dup(self.root_fd())
        try:
            for index, part in enumerate(parts[:-1]):
                inner = self.open_dir(fd, part, '/'.join(parts[:index + 1]))
                os.close(fd)
                fd = inner
        except BaseException:
            os.close(fd)
            raise
        return fd

    def receive_data(self, fd):
        """Writes the D frames to ``fd`` up to E: (digest, bytes, trailer)."""
        stream = hashlib.sha256()
        received = 0
        while True:
            kind = self.read(1)
            if kind == b'D':
                offset, length = struct.unpack('>QI', self.read(12))
                data = self.read_into(length)
                stream.update(struct.pack('>QQ', offset, length))
                stream.update(data)
                written = 0
                while written < length:
                    written += os.pwrite(fd, data[written:], offset + written)
                received += length
            elif kind == b'E':
                trailer = json.loads(self.read(struct.unpack('>I', self.read(4))[0]).decode('utf-8'))
                return stream.hexdigest(), received, trailer
            else:
                raise ValueError('unexpected frame %r' % kind)

    def image_lock(self, parts):
        """The cache lock of a ``_base/`` file (held until closed), or None."""
        if len(parts) != 2 or parts[0] != '_base':
            return None
        image = parts[1][:-len('.json')] if parts[1].endswith('.json') else parts[1]
        lock_name = 'image-%s.lock' % image
        locks_fd = self.open_parent(['_locks', lock_name])
        try:
            fd = os.open(lock_name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=locks_fd)
        finally:
            os.close(locks_fd)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def receive(self, header):
        name = header['name']
        parts = components(name)
        lock_fd = self.image_lock(parts)
        try:
            self.receive_unlocked(header, name, parts)
        finally:
            if lock_fd is not None:
                os.close(lock_fd)

    def receive_unlocked(self, header, name, parts):
        leaf, part = parts[-1], parts[-1] + '.part'
        dir_fd = self.open_parent(parts)
        try:
            existing = lstat_at(dir_fd, leaf)
            if existing is not None and stat.S_ISLNK(existing.st_mode):
                raise Refused('refusing symlink %s under %s' % (name, self.root))
            if header.get('skip_if_exists') and existing is not None:
                self.reply('SKIP')
                return
            try:                        # a stale partial file, or a planted link: the entry goes, not its target
                os.unlink(part, dir_fd=dir_fd)
            except FileNotFoundError:
                pass
            fd = os.open(part, PART_FLAGS, 0o600, dir_fd=dir_fd)
            try:
                try:
                    os.ftruncate(fd, header['size'])
                    self.reply('SEND')
                    on_disk, received, trailer = self.receive_data(fd)
                    if on_disk == trailer['sha256']:
                        os.fchmod(fd, header.get('mode', 0o640) & FILE_MODES)
                        if header.get('fsync'):
                            os.fsync(fd)
                finally:
                    os.close(fd)
                if on_disk != trailer['sha256']:
                    os.unlink(part, dir_fd=dir_fd)
                    self.reply('ERR checksum mismatch for %s: sent %s, received %s'
                               % (name, trailer['sha256'], on_disk))
                    return
                os.rename(part, leaf, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
            except BaseException:
                try:
                    os.unlink(part, dir_fd=dir_fd)
                except OSError:
                    pass
                raise
            if header.get('fsync'):
                os.fsync(dir_fd)
            self.reply('OK %s %d' % (on_disk, received))
        finally:
            os.close(dir_fd)

    def serve(self):
        """Receive files up to Q: 0; on any failure answer ``ERR <why>``: 1."""
        try:
            while True:
                kind = self.read(1)
                if kind == b'Q':
                    return 0
                if kind != b'F':
                    raise ValueError('unexpected frame %r' % kind)
                self.receive(json.loads(self.read(struct.unpack('>I', self.read(4))[0]).decode('utf-8')))
        except Exception as exc:
            try:
                self.reply('ERR %s' % exc)
            except Exception:
                pass
            return 1
        finally:
            if self.root_dir is not None:
                os.close(self.root_dir)
                self.root_dir = None


def main(argv=None):
    """``python3 -c <this file> <root>``: serve stdin into ``root``."""
    argv = sys.argv if argv is None else argv
    try:    # a bigger pipe from sshd: fewer wake-ups per MiB
        fcntl.fcntl(sys.stdin.buffer.fileno(), getattr(fcntl, 'F_SETPIPE_SZ', 1031), 1 << 20)    # 1031: Linux, Python < 3.10
    except Exception:
        pass
    return Receiver(argv[1], sys.stdin.buffer, sys.stdout).serve()


if __name__ == '__main__':
    raise SystemExit(main())
