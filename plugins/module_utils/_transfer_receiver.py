# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The receiving end of a disk transfer, as Python source that the sender
runs on the destination with ``python3 -c`` (over SSH, or locally when the
storage is shared). It needs only the standard library, so nothing has to
be installed on the destination beyond Python.

Protocol (sender -> receiver on stdin; receiver -> sender, one line each):

    F <u32 n> <n bytes JSON {name, size, mode, skip_if_exists, fsync}>  ->  SEND | SKIP
    D <u64 offset> <u32 n> <n bytes of data>                       (repeated)
    E <u32 n> <n bytes JSON {sha256}>                            ->  OK <sha256> <bytes> | ERR <why>
    Q                                                            (end)

``name`` is relative to the destination root (no ``..``). Data goes to
``<name>.part``, which is truncated to ``size`` first (holes stay holes).
The receiver hashes what it writes (sha256 over offset, length and bytes of
each range, in order); writeback is left to the kernel, as cp and rsync
leave it. At ``E``, only when
that digest equals the sender's is the file renamed into place; with
``fsync`` (records) the file and its directory are fsynced first. Disk
images are made durable later, by the destination's confirm, before the
source copy may be removed. Anything else removes the partial file; so does
a broken stream.
"""

from __future__ import annotations

RECEIVER_SOURCE = r'''
import hashlib, json, os, struct, sys

def main(root):
    inp, out = sys.stdin.buffer, sys.stdout
    try:    # a bigger pipe from sshd: fewer wake-ups per MiB
        import fcntl
        fcntl.fcntl(inp.fileno(), getattr(fcntl, 'F_SETPIPE_SZ', 1031), 1 << 20)    # 1031: Linux, Python < 3.10
    except Exception:
        pass
    state = {'part': None}

    def read(n):
        data = inp.read(n)
        if data is None or len(data) != n:
            raise EOFError('stream ended')
        return data

    buffer = bytearray(4 << 20)

    def read_into(n):
        if n > len(buffer):
            buffer.extend(bytes(n - len(buffer)))
        view = memoryview(buffer)[:n]
        got = 0
        while got < n:
            count = inp.readinto(view[got:])
            if not count:
                raise EOFError('stream ended')
            got += count
        return view

    def reply(text):
        out.write(text + '\n')
        out.flush()

    def target_of(name):
        if os.path.isabs(name) or '..' in name.split('/') or not name:
            raise ValueError('refusing path %r' % name)
        return os.path.join(root, name)

    def ensure_dir(path):
        if not os.path.isdir(path):
            ensure_dir(os.path.dirname(path))
            private = os.path.basename(path) in ('_records', '_migrations')
            os.mkdir(path, 0o700 if private else 0o755)
            os.chmod(path, 0o700 if private else 0o755)

    try:
        while True:
            kind = read(1)
            if kind == b'Q':
                return 0
            if kind != b'F':
                raise ValueError('unexpected frame %r' % kind)
            header = json.loads(read(struct.unpack('>I', read(4))[0]).decode('utf-8'))
            target = target_of(header['name'])
            if header.get('skip_if_exists') and os.path.exists(target):
                reply('SKIP')
                continue
            ensure_dir(os.path.dirname(target))
            part = target + '.part'
            state['part'] = part
            fd = os.open(part, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
            os.ftruncate(fd, header['size'])
            stream = hashlib.sha256()
            received = 0
            reply('SEND')
            while True:
                kind = read(1)
                if kind == b'D':
                    offset, length = struct.unpack('>QI', read(12))
                    data = read_into(length)
                    stream.update(struct.pack('>QQ', offset, length))
                    stream.update(data)
                    written = 0
                    while written < length:
                        written += os.pwrite(fd, data[written:], offset + written)
                    received += length
                elif kind == b'E':
                    trailer = json.loads(read(struct.unpack('>I', read(4))[0]).decode('utf-8'))
                    break
                else:
                    raise ValueError('unexpected frame %r' % kind)
            if header.get('fsync'):
                os.fsync(fd)
            os.close(fd)
            on_disk = stream.hexdigest()
            if on_disk != trailer['sha256']:
                os.unlink(part)
                state['part'] = None
                reply('ERR checksum mismatch for %s: sent %s, received %s'
                      % (header['name'], trailer['sha256'], on_disk))
                continue
            os.chmod(part, header.get('mode', 0o644))
            os.rename(part, target)
            state['part'] = None
            if header.get('fsync'):
                dir_fd = os.open(os.path.dirname(target), os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
            reply('OK %s %d' % (on_disk, received))
    except Exception as exc:
        if state['part'] and os.path.exists(state['part']):
            os.unlink(state['part'])
        try:
            reply('ERR %s' % exc)
        except Exception:
            pass
        return 1

sys.exit(main(sys.argv[1]))
'''
