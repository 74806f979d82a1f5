# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Record saves made durable together (state_reconcile correcting hundreds
of records paid three fsyncs for each: its action line, the record's
temporary file, the directory after the rename).

Inside a batch, ``RecordStore.save`` keeps the record's JSON in memory (and
``load`` reads it back from there), and so does ``ActionLog.append`` with
the action lines. ``flush()`` then does what each save did, once for all of
them, in the same order:

1. the action lines are appended (one write per log) and every record is
   written to its temporary file (under the directory's writers lock, as
   any save);
2. one ``syncfs`` of the filesystem makes all of it durable (where
   ``syncfs`` is missing or refused, each file is fsynced);
3. each temporary file is renamed over its record: still durable before
   the rename, and after its action lines;
4. one fsync of the records directory makes the renames durable;
5. the instance locks the batch was handed (``hold``) are released: nobody
   sees a record under its lock before its new content is on disk.

While it ``holding()`` locks, its user never waits for another lock: a busy
one is waited for after a flush, so nobody waits on the batched instances
for as long as that wait lasts.

A crash before the flush loses the batched corrections but not a record: the
files on disk are the old ones (and perhaps ``.tmp-*`` files, which the
leftovers cleanup removes); the next reconcile plans the same corrections.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile

from ansible_collections.novalite.compute.plugins.module_utils._store.files import TMP_PREFIX, append_line, fsync_path, syncfs
from ansible_collections.novalite.compute.plugins.module_utils._store.locking import directory_writers

LIMIT = 128         # records pending (and instance locks held) at most before a flush


class DurableBatch(object):
    def __init__(self, directory, mode=0o600, limit=LIMIT):
        self.directory = directory
        self.mode = mode
        self.limit = limit
        self.active = True
        self._pending = {}      # final path -> JSON text
        self._lines = {}        # action log -> lines not yet written
        self._held = []         # lock contexts released after the flush

    # -- what the store hands over ---------------------------------------------------
    def stage(self, path, data):
        self._pending[path] = json.dumps(data)      # C encoder: cheap; written out indented once, at the flush

    def forget(self, path):
        """A write of ``path`` that went straight to disk (``paused``) replaces what was staged."""
        self._pending.pop(path, None)

    def staged(self, path):
        """The data staged for ``path`` (a fresh dict), or None."""
        text = self._pending.get(path)
        return json.loads(text) if text is not None else None

    def add_line(self, path, line):
        """An action line, written (with the others of its log, one write)
        and made durable at the flush, before any record is renamed."""
        self._lines.setdefault(path, []).append(line)

    def hold(self, context):
        """Keep ``context`` (an instance lock) until the flush made its record durable."""
        self._held.append(context)

    def holding(self):
        """Whether the batch holds instance locks now (released at the next flush)."""
        return bool(self._held)

    def full(self):
        return len(self._pending) >= self.limit or len(self._held) >= self.limit

    @contextlib.contextmanager
    def paused(self):
        """Saves and action lines go straight to disk, each durable on its own."""
        self.active = False
        try:
            yield
        finally:
            self.active = True

    # -- making it durable -------------------------------------------------------------
    def flush(self):
        """Make what is staged durable, then release the held locks. What
        a failing flush could not write is dropped, never kept for a later
        flush (its locks are gone by then): the old records stand, and the
        next reconcile plans the same corrections again."""
        pending, self._pending = self._pending, {}
        lines, self._lines = self._lines, {}
        held, self._held = self._held, []
        try:
            logs = self._write_lines(lines)
            if pending:
                self._write_records(pending, logs)
            elif logs:
                self._sync(logs)
        finally:
            for context in reversed(held):
                context.__exit__(None, None, None)

    @staticmethod
    def _write_lines(lines):
        for path, text in sorted(lines.items()):
            append_line(path, ''.join(text), durable=False)
        return sorted(lines)

    def _write_records(self, pending, logs):
        with directory_writers(self.directory):
            written = []
            try:
                for path, text in sorted(pending.items()):
                    written.append((self._write_temporary(json.loads(text)), path))
                self._sync([tmp for tmp, _path in written] + logs)
                while written:
                    tmp, path = written[0]
                    os.rename(tmp, path)
                    written.pop(0)
            finally:
                for tmp, _path in written:
                    _unlink_quietly(tmp)
        fsync_path(self.directory)

    def _write_temporary(self, data):
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=self.directory)
        try:
            with os.fdopen(fd, 'w') as handle:
                json.dump(data, handle, indent=2, sort_keys=True)
                handle.write('\n')
            if self.mode != 0o600:          # mkstemp made it 0600 already
                os.chmod(tmp, self.mode)
        except BaseException:
            _unlink_quietly(tmp)
            raise
        return tmp

    def _sync(self, paths):
        if not syncfs(self.directory):
            for path in paths:
                fsync_path(path)


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
