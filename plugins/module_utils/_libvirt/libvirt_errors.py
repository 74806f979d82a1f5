# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one place that turns ``libvirt.libvirtError`` into the collection's
exceptions, keeping libvirt's error code (Nova does this in host.py).
``host`` and ``guest`` wrap every libvirt call in ``libvirt_errors``.
"""

from __future__ import annotations

import contextlib

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import (
    DomainNotFound,
    HypervisorError,
)

try:
    import libvirt
except ImportError:  # reported by the module via missing_required_lib
    libvirt = None


def _quiet_handler(_ctx, _err):
    """libvirt prints every error to stderr by default; we report them ourselves."""


def silence_default_handler():
    libvirt.registerErrorHandler(_quiet_handler, None)


@contextlib.contextmanager
def libvirt_errors(what):
    """Map libvirtError raised inside the block. ``what`` names the call."""
    try:
        yield
    except libvirt.libvirtError as exc:
        code = exc.get_error_code()
        message = '%s failed: %s (libvirt error code %s)' % (what, exc.get_error_message() or exc, code)
        if code == libvirt.VIR_ERR_NO_DOMAIN:
            raise DomainNotFound(message, code=code)
        raise HypervisorError(message, code=code)


def is_aborted(exc):
    """Whether a mapped error is libvirt's 'operation aborted' (a job
    cancelled by abortJob)."""
    return libvirt is not None and getattr(exc, 'code', None) == libvirt.VIR_ERR_OPERATION_ABORTED
