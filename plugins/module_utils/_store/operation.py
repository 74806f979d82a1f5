# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared plumbing for operations that change an instance: task-state
transitions checked against the expected previous state, and the action log
entries around each operation (Nova's wrap_instance_event / _record_action_start).
"""

from __future__ import annotations

import contextlib

from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import InternalError, NovaliteError
from ansible_collections.novalite.compute.plugins.module_utils._common.failpoints import name_of, reached
from ansible_collections.novalite.compute.plugins.module_utils._common.steps import check_step
from ansible_collections.novalite.compute.plugins.module_utils._store.records import ANY, utcnow


def collection_error(exc, where):
    """The collection error that stands for ``exc``, raised during ``where``.
    Disk full, permission denied, a vanished file are failures like any
    other; anything else is unexpected (a bug, or input nothing checked)."""
    if isinstance(exc, OSError):
        return NovaliteError('%s failed: %s' % (where, exc))
    return InternalError('unexpected %s: %s' % (type(exc).__name__, exc))


def error_out(record):
    """An ``on_error`` for ``Operation.running``: the instance goes to vm_state
    error with no task (Nova's _error_out_instance_on_exception)."""
    def on_error(_exc):
        record.vm_state = states.ERROR
        record.task_state = None
    return on_error


class Operation(object):
    """One action on one instance: ``step()`` names the current phase so a
    failure says where it happened; ``transition()`` persists a task_state
    change only if the record on disk still has the expected one."""

    def __init__(self, store, record, action):
        self.store = store
        self.record = record
        self.action = action
        self.phase = None
        self.log = store.actions(record.uuid)

    def step(self, phase):
        """Enter ``phase``: a failure from here on names it; a crash point."""
        check_step(self.action, phase)
        self.phase = phase
        reached(name_of(self.action, phase))

    def transition(self, expected=ANY, **changes):
        for field, value in changes.items():
            setattr(self.record, field, value)
        self.store.save(self.record, expected_task_state=expected)

    def event(self, event, **fields):
        self.log.append(self.action, event, **fields)

    def progress(self, event, **fields):
        """A progress line: not fsynced (see ActionLog)."""
        self.log.append(self.action, event, durable=False, **fields)

    @contextlib.contextmanager
    def running(self, on_error=None):
        """Log start/finish/error around the block. On any error (an
        ``Exception``: Ctrl-C and exits pass through untouched), ``on_error(exc)``
        decides what the record becomes, the fault is written, and the error
        is re-raised naming the instance and phase; one that is not the
        collection's own is first wrapped (see ``collection_error``)."""
        self.event('start')
        try:
            try:
                yield self
            except NovaliteError:
                raise
            except Exception as exc:
                raise collection_error(exc, self.phase or self.action) from exc
        except NovaliteError as exc:
            exc.with_context(instance=self.record.label, step=self.phase)
            if on_error is not None:
                on_error(exc)
            self.record.fault = {'message': exc.message, 'step': exc.step, 'action': self.action,
                                 'time': utcnow()}
            self.store.save(self.record)
            self.event('error', step=exc.step, message=exc.message)
            raise
        self.event('finish', result='success')
