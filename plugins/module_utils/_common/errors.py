# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's exception types.

Helpers raise these; only a module's ``main()`` turns them into ``fail_json``.
Every error can carry the instance it is about and the step that failed, so
the operator reads "instance web1 (uuid …): fetch image: checksum mismatch".
"""

from __future__ import annotations


class NovaliteError(Exception):
    """Base class: a failure the operator can act on."""

    def __init__(self, message, instance=None, step=None, **details):
        super().__init__(message)
        self.message = message
        self.instance = instance
        self.step = step
        self.details = details

    def with_context(self, instance=None, step=None):
        """Fill in instance/step if the raiser did not know them."""
        if self.instance is None:
            self.instance = instance
        if self.step is None:
            self.step = step
        return self

    def __str__(self):
        parts = []
        if self.instance:
            parts.append('instance %s' % self.instance)
        if self.step:
            parts.append(self.step)
        parts.append(self.message)
        return ': '.join(parts)


class InvalidInput(NovaliteError):
    """The module arguments are not acceptable; nothing was touched."""


class NoValidHost(NovaliteError):
    """An instance fits on no host (Nova's NoValidHost); the placements
    and every host's reason are in the details."""


class DomainNotManaged(NovaliteError):
    """A libvirt domain without this collection's metadata for this host:
    it is never touched (the operation stops where it met it)."""


class HypervisorError(NovaliteError):
    """libvirt reported an error (mapped in _libvirt/libvirt_errors.py, the only place)."""

    def __init__(self, message, code=None, **kwargs):
        super().__init__(message, **kwargs)
        self.code = code


class DomainNotFound(HypervisorError):
    """No libvirt domain with that UUID."""


class ImageUnacceptable(NovaliteError):
    """The image was fetched but refused (format, backing file, size, checksum)."""


class ImageFetchError(NovaliteError):
    """The image could not be downloaded or read."""


class CommandError(NovaliteError):
    """An external command (qemu-img, genisoimage, mkfs) failed."""


class TransferError(NovaliteError):
    """Copying instance files to another host failed or was not verified."""


class MigrationError(NovaliteError):
    """A migration or resize step cannot run (wrong host, wrong status, no capacity)."""


class ReconcileIncomplete(NovaliteError):
    """state_reconcile with fail_on_error: some instances could not be
    reconciled (the others were); ``details`` carry the whole result."""


class WaitTimeout(NovaliteError):
    """A power-state wait ran out of time; carries the last state seen."""

    def __init__(self, message, last_state=None, **kwargs):
        super().__init__(message, **kwargs)
        self.last_state = last_state


class UnexpectedTaskState(NovaliteError):
    """The record's task_state is not what this step expected (Nova's
    UnexpectedTaskStateError): someone else changed the instance."""


class InstanceNotFound(NovaliteError):
    """No live instance record with that name or uuid on this host."""


class InstanceInvalidState(NovaliteError):
    """The instance is in a state that does not allow this operation."""


class InstanceLocked(NovaliteError):
    """The instance record is locked against changes."""


class LockTimeout(NovaliteError):
    """Another process held the instance (or image) lock for too long."""


class RecordCorrupt(NovaliteError):
    """An instance record on disk cannot be parsed."""


class InternalError(NovaliteError):
    """An unexpected exception, wrapped: the class name and message of the
    original are in the message, the original is chained (``__cause__``)."""
