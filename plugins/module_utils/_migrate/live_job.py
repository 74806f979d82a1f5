# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""libvirt's live-migration job, run and watched (Nova's
_live_migration_operation + _live_migration_monitor): the migration call
blocks in a thread while this one polls the job's statistics on a
monotonic clock, reports progress, and applies the completion policy
(``live_policy.on_progress``): abort, or switch to post-copy.
"""

from __future__ import annotations

import threading
import time

from ansible_collections.novalite.compute.plugins.module_utils._migrate.live_policy import (
    ABORT,
    completion_deadline,
    on_progress,
)

PROGRESS_EVERY_S = 2.0
ABORT_AGAIN_S = 5.0                 # a timed-out job still running: abortJob asked again this often
STAT_KEYS = ('data_total', 'data_processed', 'data_remaining', 'memory_total', 'memory_processed',
             'memory_remaining', 'memory_dirty_rate', 'memory_iteration', 'disk_total', 'disk_processed',
             'disk_remaining', 'downtime', 'time_elapsed')


def job_progress(stats):
    """The part of libvirt's job statistics the action log keeps."""
    return dict((key, stats[key]) for key in STAT_KEYS if key in stats)


class LiveJob(object):
    """``run(call)``: ``call()`` is the blocking migration; ``guest`` the
    source Guest (job stats, abort, post-copy); ``gib`` the data to move
    (``live_policy.data_gib``) the deadline is scaled by;
    ``progress(event, **fields)`` writes the action log. After ``run``: ``timed_out``, ``post_copy``,
    ``last`` (the last statistics seen), ``seconds``."""

    def __init__(self, guest, options, gib, progress, clock=time.monotonic):
        self.guest = guest
        self.options = options
        self.deadline = completion_deadline(options, gib)
        self.progress = progress
        self.clock = clock
        self.timed_out = False
        self.aborted_at = None          # when the timeout aborted the job (seconds into it)
        self.post_copy = False
        self.last = {}
        self.seconds = 0.0

    def run(self, call):
        """Run ``call`` and watch it until it returns; its outcome (result or
        exception) is the outcome of the run. Nothing that goes wrong while
        watching ends the run early: the job is still libvirt's."""
        outcome = {}

        def target():
            try:
                call()
            except BaseException as exc:      # noqa: BLE001 - handed to the caller's thread
                outcome['error'] = exc

        thread = threading.Thread(target=target, name='live-migration')
        began = self.clock()
        reported = began - PROGRESS_EVERY_S
        thread.start()
        while True:
            thread.join(self.options['poll_interval'])
            if not thread.is_alive():
                break
            now = self.clock()
            try:
                self._watch(now - began)
            except Exception as exc:          # noqa: BLE001 - logged; the call's own outcome decides
                self.progress('live_monitor_error', error='%s: %s' % (type(exc).__name__, exc))
            if now - reported >= PROGRESS_EVERY_S:
                reported = now
                self.progress('live_progress', elapsed=round(now - began, 1), **job_progress(self.last))
        self.seconds = self.clock() - began
        if 'error' in outcome:
            raise outcome['error']
        return self

    def _watch(self, elapsed):
        stats = self.guest.job_stats()
        if stats:
            self.last = stats
        if not stats:
            return                      # no job (yet, or any more): nothing to abort or switch
        if self.timed_out:
            # seen here: an abort that reaches libvirt while it waits on the
            # NBD disk copy can be lost; asked again until the job ends
            if elapsed - self.aborted_at >= ABORT_AGAIN_S:
                self.aborted_at = elapsed
                self.progress('live_abort_again', elapsed=round(elapsed, 1))
                self.guest.abort_job()
            return
        action = on_progress(elapsed, self.deadline, self.options, self.post_copy)
        if action == 'post-copy':
            self.progress('live_timeout', then='post-copy', elapsed=round(elapsed, 1))
            self.post_copy = True
            self.guest.start_post_copy()
        elif action == ABORT:
            self.progress('live_timeout', then='abort', elapsed=round(elapsed, 1))
            self.timed_out = True
            self.aborted_at = elapsed
            self.guest.abort_job()
