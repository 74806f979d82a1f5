# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Libvirt's power states and the one wait helper.

``PowerState`` (Nova's numbering) and ``OFF_STATES`` are pure and live in
``_common.power_states``. The table that maps libvirt's ``VIR_DOMAIN_*``
states onto them lives here; it is built from libvirt's own constants when
libvirt-python is importable.
``wait_for`` polls on a monotonic clock with capped backoff and raises
``WaitTimeout`` carrying the last state it saw.
"""

from __future__ import annotations

import time

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import (
    InstanceInvalidState,
    NovaliteError,
    WaitTimeout,
)
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import OFF_STATES, PowerState

try:
    import libvirt
except ImportError:  # reported by the module via missing_required_lib
    libvirt = None


def power_label(guest):
    """The power state label of ``guest``; ``nostate`` when there is no domain."""
    return guest.power_state().label if guest is not None else PowerState.NOSTATE.label


def _libvirt_table():
    if libvirt is None:
        return {}
    return {
        libvirt.VIR_DOMAIN_NOSTATE: PowerState.NOSTATE,
        libvirt.VIR_DOMAIN_RUNNING: PowerState.RUNNING,
        libvirt.VIR_DOMAIN_BLOCKED: PowerState.RUNNING,
        libvirt.VIR_DOMAIN_PAUSED: PowerState.PAUSED,
        libvirt.VIR_DOMAIN_SHUTDOWN: PowerState.RUNNING,  # shutting down: still running
        libvirt.VIR_DOMAIN_SHUTOFF: PowerState.SHUTDOWN,
        libvirt.VIR_DOMAIN_CRASHED: PowerState.CRASHED,
        libvirt.VIR_DOMAIN_PMSUSPENDED: PowerState.SUSPENDED,
    }


LIBVIRT_POWER_STATES = _libvirt_table()


def from_libvirt(state):
    """Map a libvirt domain state number to a PowerState."""
    return LIBVIRT_POWER_STATES.get(state, PowerState.NOSTATE)


def wait_for(get_state, complete, allowed=None, timeout=60.0, what='power state',
             interval=0.1, max_interval=1.0, clock=time.monotonic, sleep=time.sleep):
    """Poll ``get_state()`` until it returns a value in ``complete``.

    ``allowed``: states that may be seen on the way; any other state raises
    ``InstanceInvalidState`` at once. ``None`` allows everything.
    Returns the final state. Raises ``WaitTimeout`` (with ``last_state``)
    after ``timeout`` seconds measured on ``clock``.
    """
    complete = frozenset(complete)
    allowed = None if allowed is None else frozenset(allowed) | complete
    deadline = clock() + timeout
    delay = interval
    while True:
        state = get_state()
        if state in complete:
            return state
        if allowed is not None and state not in allowed:
            raise InstanceInvalidState(
                'unexpected %s %s while waiting for %s' % (what, _label(state), _labels(complete)))
        remaining = deadline - clock()
        if remaining <= 0:
            raise WaitTimeout(
                'timed out after %ss waiting for %s %s; last seen %s'
                % (_num(timeout), what, _labels(complete), _label(state)),
                last_state=_label(state))
        sleep(min(delay, remaining))
        delay = min(delay * 2, max_interval)


def _label(state):
    return getattr(state, 'label', state)


def _labels(states):
    return '/'.join(sorted(str(_label(s)) for s in states))


def _num(value):
    return int(value) if float(value).is_integer() else value


def wait_running(guest, timeout):
    return wait_for(guest.power_state, complete={PowerState.RUNNING},
                    allowed={PowerState.NOSTATE, PowerState.PAUSED}, timeout=timeout)


SHUTDOWN_RETRY_INTERVAL = 10  # seconds between ACPI presses (Nova's retry_interval)


def clean_power_off(guest, timeout, retry_interval=SHUTDOWN_RETRY_INTERVAL):
    """Nova's _clean_shutdown: press the power button, re-press every
    ``retry_interval`` s, and destroy after ``timeout`` s.
    Returns how the guest went off: 'already off', 'acpi' or 'destroy'."""
    if guest.power_state() in OFF_STATES:
        return 'already off'
    remaining = float(timeout)
    while remaining > 0:
        try:
            guest.shutdown()
        except NovaliteError:
            if guest.power_state() in OFF_STATES:
                return 'acpi'
            raise
        chunk = min(retry_interval, remaining)
        try:
            wait_for(guest.power_state, complete=OFF_STATES, timeout=chunk)
            return 'acpi'
        except WaitTimeout:
            remaining -= chunk
    guest.destroy()
    return 'destroy'
