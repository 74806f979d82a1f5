# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Copying instance files to another hypervisor (Nova's copy_image over its
remotefs driver), sparse-aware and verified. Records are sent durable
(fsync); disk images are flushed by the destination's confirm.

Only allocated ranges are sent: they are found with ``SEEK_DATA`` /
``SEEK_HOLE``, so a 10 GiB disk with 256 MiB written sends 256 MiB. The
receiver (``receiver.py``, shipped as its own source text) runs on the destination with
``python3 -c`` over SSH, or locally when the destination path is reachable
here (shared storage, same host). Every file is checked on arrival against a
sha256 computed here while reading; a file only appears under its final name
once it is complete and verified.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import inspect
import json
import os
import queue
import shlex
import struct
import subprocess
import sys
import tempfile
import threading
import time

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import TransferError
from ansible_collections.novalite.compute.plugins.module_utils._common.units import CHUNK, PROGRESS_EVERY, MiB
from ansible_collections.novalite.compute.plugins.module_utils._migrate import receiver as _receiver

PIPE_SIZE = MiB
PIPE_SIZE_FLAG = getattr(fcntl, 'F_SETPIPE_SZ', 1031)


def data_extents(fd, size):
    """(offset, length) of the allocated ranges of an open file. Falls back to
    the whole file where the filesystem cannot tell holes apart."""
    extents = []
    offset = 0
    try:
        while offset < size:
            try:
                start = os.lseek(fd, offset, os.SEEK_DATA)
            except OSError as exc:
                if exc.errno == errno.ENXIO:      # no data after offset
                    break
                raise
            end = os.lseek(fd, start, os.SEEK_HOLE)
            extents.append((start, min(end, size) - start))
            offset = end
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EOPNOTSUPP):
            raise
        return [(0, size)] if size else []
    return extents


def allocated_bytes(path):
    with open(path, 'rb') as handle:
        return sum(length for _offset, length in data_extents(handle.fileno(), os.fstat(handle.fileno()).st_size))


def _read_chunks(fd, extents, digest, chunks, path, stop):
    """Reader thread: put (offset, data) of every allocated range on
    ``chunks``, hashing as it goes; then None (or the exception). Stops
    early when ``stop`` is set."""
    try:
        for start, length in extents:
            offset, end = start, start + length
            while offset < end and not stop.is_set():
                data = os.pread(fd, min(CHUNK, end - offset), offset)
                if not data:
                    raise TransferError('%s shrank while it was being sent' % path)
                digest.update(struct.pack('>QQ', offset, len(data)))
                digest.update(data)
                chunks.put((offset, data))
                offset += len(data)
        chunks.put(None)
    except Exception as exc:  # handed to the writing thread, which raises it
        chunks.put(exc)


def _drain(chunks, reader, stop):
    """Stop the reader thread, unblocking it if it waits on a full queue."""
    stop.set()
    while reader.is_alive():
        try:
            chunks.get(timeout=0.1)
        except queue.Empty:
            pass
    reader.join()


class SshTarget(object):
    """How to reach the destination: ``ssh [-p port] [-i key] [-l user] -- host``."""

    def __init__(self, host, user=None, port=None, identity_file=None, python='python3', options=None):
        self.host = host
        self.user = user
        self.port = port
        self.identity_file = identity_file
        self.python = python
        self.options = list(options or [])

    @property
    def label(self):
        return '%s%s%s' % (self.user + '@' if self.user else '', self.host, ':%s' % self.port if self.port else '')

    def command(self, remote_argv):
        argv = ['ssh', '-o', 'BatchMode=yes', '-o', 'Compression=no', '-o', 'ServerAliveInterval=10',
                '-o', 'ServerAliveCountMax=3']
        if self.port:
            argv += ['-p', str(self.port)]
        if self.identity_file:
            argv += ['-i', self.identity_file]
        if self.user:
            argv += ['-l', self.user]
        argv += self.options
        # '--' ends ssh's options: a host that starts with '-' is still a host
        argv += ['--', self.host, ' '.join(shlex.quote(arg) for arg in remote_argv)]
        return argv

    def receiver(self, root):
        return self.command([self.python, '-c', receiver_source(), root])


def receiver_source():
    """The receiver program: the text of receiver.py, read through its
    module's loader, so from a file here as from the AnsiballZ zip."""
    return inspect.getsource(_receiver)


def local_receiver(root):
    return [sys.executable, '-c', receiver_source(), root]


class Transfer(object):
    """One receiver process; ``send()`` files through it, then ``close()``.
    ``progress(name, done, total)`` is called every PROGRESS_EVERY bytes of a file and at its end."""

    def __init__(self, argv, where, progress=None):
        self.argv = argv
        self.where = where
        self.progress = progress
        self.proc = None
        self.bytes_sent = 0

    def __enter__(self):
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE)
        except OSError as exc:
            raise TransferError('cannot start the transfer to %s: %s' % (self.where, exc))
        try:    # a bigger pipe to ssh: fewer wake-ups per MiB
            fcntl.fcntl(self.proc.stdin.fileno(), PIPE_SIZE_FLAG, PIPE_SIZE)
        except OSError:
            pass
        return self

    def __exit__(self, exc_type, exc, _tb):
        if exc_type is None:
            self.close()
        else:
            self._kill()

    def _kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()

    def _write(self, data):
        try:
            self.proc.stdin.write(data)
        except (BrokenPipeError, OSError):
            raise self._broken()

    def _answer(self):
        try:
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise self._broken()
        line = self.proc.stdout.readline().decode('utf-8', 'replace').strip()
        if not line:
            raise self._broken()
        if line.startswith('ERR '):
            raise TransferError('the receiver on %s refused: %s' % (self.where, line[4:]))
        return line

    def _broken(self):
        self._kill()
        stderr = self.proc.stderr.read().decode('utf-8', 'replace').strip() if self.proc.stderr else ''
        return TransferError('the connection to %s broke (exit %s)%s'
                             % (self.where, self.proc.returncode, ': ' + stderr[-500:] if stderr else ''))

    def send(self, path, name, mode=0o640, skip_if_exists=False, fsync=False):
        """Send ``path`` as ``name`` (relative to the receiver's root); with
        ``fsync`` the receiver makes it durable before answering. The
        receiver keeps at most the 0o660 bits of ``mode``.
        Returns {name, bytes, sha256, skipped}."""
        began = time.monotonic()
        with open(path, 'rb') as handle:
            fd = handle.fileno()
            size = os.fstat(fd).st_size
            header = json.dumps({'name': name, 'size': size, 'mode': mode, 'fsync': fsync,
                                 'skip_if_exists': skip_if_exists}).encode('utf-8')
            self._write(b'F' + struct.pack('>I', len(header)) + header)
            if self._answer() == 'SKIP':
                return {'name': name, 'bytes': 0, 'sha256': None, 'skipped': True, 'size': size}
            digest = hashlib.sha256()
            sent = self._send_data(fd, size, path, name, digest)
        trailer = json.dumps({'sha256': digest.hexdigest()}).encode('utf-8')
        self._write(b'E' + struct.pack('>I', len(trailer)) + trailer)
        answer = self._answer().split()
        if answer[:2] != ['OK', digest.hexdigest()]:
            raise TransferError('unexpected answer from %s for %s: %s' % (self.where, name, ' '.join(answer)))
        self.bytes_sent += sent
        return {'name': name, 'bytes': sent, 'sha256': digest.hexdigest(), 'skipped': False, 'size': size,
                'seconds': round(time.monotonic() - began, 3)}

    def _send_data(self, fd, size, path, name, digest):
        """The allocated ranges of the open file ``fd`` as data frames,
        hashed into ``digest``, with progress reports. Returns the bytes sent."""
        extents = data_extents(fd, size)
        total = sum(length for _o, length in extents)
        sent = 0
        next_report = PROGRESS_EVERY
        # Read and hash in a thread while this one writes to the pipe:
        # pread, sha256 and pipe writes all release the GIL.
        chunks = queue.Queue(maxsize=4)
        stop = threading.Event()
        reader = threading.Thread(target=_read_chunks, args=(fd, extents, digest, chunks, path, stop))
        reader.daemon = True
        reader.start()
        try:
            while True:
                item = chunks.get()
                if item is None:
                    break
                if isinstance(item, Exception):
                    raise item
                offset, data = item
                self._write(b'D' + struct.pack('>QI', offset, len(data)))
                self._write(data)
                sent += len(data)
                if self.progress and sent >= next_report:
                    self.progress(name, sent, total)
                    next_report += PROGRESS_EVERY
        finally:
            _drain(chunks, reader, stop)
        if self.progress:
            self.progress(name, sent, total)
        return sent

    def send_bytes(self, data, name, mode=0o600):
        """Send an in-memory document (a record) as ``name``."""
        with tempfile.NamedTemporaryFile(prefix='.novalite-send-') as handle:
            handle.write(data)
            handle.flush()
            return self.send(handle.name, name, mode=mode, fsync=True)

    def send_json(self, document, name):
        return self.send_bytes(json.dumps(document, indent=2, sort_keys=True).encode('utf-8'), name)

    def send_migration(self, migration):
        """A migration record, to the destination's ``_migrations``."""
        return self.send_json(migration, '_migrations/%s.json' % migration['id'])

    def send_record(self, record):
        """An instance record, to the destination's ``_records``."""
        return self.send_json(record.to_dict(), '_records/%s.json' % record.uuid)

    def close(self):
        self._write(b'Q')
        try:
            self.proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass
        rc = self.proc.wait()
        if rc != 0:
            raise self._broken()
