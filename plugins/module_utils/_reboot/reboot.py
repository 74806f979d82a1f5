# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rebooting an instance the way nova-compute does (_reboot_instance ->
libvirt driver reboot -> _soft_reboot, falling back to _hard_reboot).

Task states, each saved only if the one before is still on disk:
soft: rebooting -> reboot_pending -> reboot_started -> None;
hard: rebooting_hard -> reboot_pending_hard -> reboot_started_hard -> None.
A failed reboot leaves vm_state active when the guest still runs (the fault
is recorded) and error otherwise; task_state is cleared either way.
"""

from __future__ import annotations

import os
import time

from ansible_collections.novalite.compute.plugins.module_utils._common import states
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import HypervisorError
from ansible_collections.novalite.compute.plugins.module_utils._common.power_states import OFF_STATES, PowerState
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.guest_xml import write_guest_xml
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.power import power_label, wait_for
from ansible_collections.novalite.compute.plugins.module_utils._libvirt.power import wait_running
from ansible_collections.novalite.compute.plugins.module_utils._module.hypervisor import OnHypervisor
from ansible_collections.novalite.compute.plugins.module_utils._reboot.policy import (
    SOFT,
    expected_before,
    state_after_failure,
)
from ansible_collections.novalite.compute.plugins.module_utils._storage.rebuild import FileRebuilder
from ansible_collections.novalite.compute.plugins.module_utils._store.operation import Operation

SOFT_POLL_INTERVAL = 0.25  # seconds between looks at the domain (Nova: 1)

# Outcomes of the soft reboot loop.
RESTARTED = 'restarted'              # the guest powered off and we started it
REBOOTED_BY_GUEST = 'rebooted by guest'  # a new domain id already runs


def soft_reboot(lookup, timeout, wait_timeout=120.0, poll=SOFT_POLL_INTERVAL,
                clock=time.monotonic, sleep=time.sleep):
    """Nova's _soft_reboot. ``lookup()`` returns the Guest (or None while the
    domain is undefined). Press the ACPI button if the guest runs, then watch
    the domain id for up to ``timeout`` seconds: once it differs from the
    one we started with, a shut-off or crashed domain is started again and
    awaited, a running one has already rebooted. Returns RESTARTED,
    REBOOTED_BY_GUEST, or None when the guest never went down (the caller
    falls back to a hard reboot)."""
    guest = lookup()
    if guest is None:
        return None
    old_id = guest.id
    if guest.power_state() == PowerState.RUNNING:
        guest.shutdown()
    deadline = clock() + timeout
    while True:
        guest = lookup()
        if guest is not None:
            state = guest.power_state()
            if guest.id != old_id:
                if state in OFF_STATES:
                    guest.launch()
                    wait_for(guest.power_state, complete={PowerState.RUNNING},
                             allowed={PowerState.NOSTATE, PowerState.PAUSED},
                             timeout=wait_timeout, clock=clock, sleep=sleep)
                    return RESTARTED
                return REBOOTED_BY_GUEST
        remaining = deadline - clock()
        if remaining <= 0:
            return None
        sleep(min(poll, remaining))


def _domain_id(guest):
    """The running domain's id, or None when it is not running."""
    if guest is None:
        return None
    domain_id = guest.id
    return domain_id if domain_id >= 0 else None


class Rebooter(OnHypervisor):
    """Reboots instances of the hypervisor ``hv`` (a ``_module.hypervisor.Hypervisor``);
    a hard reboot first puts back missing files (``FileRebuilder``)."""

    def __init__(self, hv):
        super().__init__(hv)
        self.rebuilder = FileRebuilder(hv)

    def _power_label(self, uuid):
        return power_label(self.host.guest_by_uuid(uuid))

    def reboot(self, record, plan, soft_timeout=120, wait_timeout=120):
        """Run ``plan`` (from ``_reboot.policy.plan_reboot``) on ``record``.
        Returns what happened: method, fallback, repairs, domain ids."""
        rebooting, pending, started = plan['task_states']
        result = {'type': plan['type'], 'method': plan['method'], 'reason': plan['reason'],
                  'fallback': None, 'fallback_reason': None, 'repaired': [],
                  'domain_id': {'before': _domain_id(self.host.guest_by_uuid(record.uuid)), 'after': None}}
        op = Operation(self.store, record, states.ACTION_REBOOT)
        # The API's save: refused (nothing changed) if another operation
        # moved the instance since it was read.
        op.transition(expected=expected_before(plan['type']), task_state=rebooting)

        def on_error(_exc):
            power = self._power_label(record.uuid)
            record.power_state = power
            record.vm_state = state_after_failure(power)
            record.task_state = None

        with op.running(on_error=on_error):
            op.step('acknowledge')
            op.transition(expected=rebooting, task_state=pending, power_state=self._power_label(record.uuid))
            op.transition(expected=pending, task_state=started)
            hard = plan['method'] != SOFT
            if not hard:
                op.step('soft reboot')
                outcome, why = self._soft(record, soft_timeout, wait_timeout)
                if outcome is None:
                    hard = True
                    result.update(fallback='hard', fallback_reason=why)
                    op.event('fallback', method='hard', reason=why)
                else:
                    op.event('soft_reboot', outcome=outcome)
            if hard:
                result['repaired'] = self._hard(record, op, wait_timeout)
            op.step('finish')
            guest = self.host.guest_by_uuid(record.uuid)
            result['domain_id']['after'] = _domain_id(guest)
            op.transition(expected=started, vm_state=states.ACTIVE, task_state=None,
                          power_state=guest.power_state().label)
        return result

    def _soft(self, record, timeout, wait_timeout):
        try:
            outcome = soft_reboot(lambda: self.host.guest_by_uuid(record.uuid), timeout, wait_timeout)
        except HypervisorError as exc:
            # Nova falls back to a hard reboot when libvirt refuses the soft one.
            return None, 'libvirt refused the soft reboot: %s' % exc.message
        if outcome is None:
            return None, 'the guest did not shut down within %ss of the ACPI power button' % timeout
        return outcome, None

    def _hard(self, record, op, wait_timeout):
        """Nova's _hard_reboot: rebuild the guest from the record, never from
        the live domain, and never delete a disk. Missing files are put back
        first, so a guest that cannot come back is not destroyed."""
        uuid = record.uuid
        op.step('recreate files')
        repaired = []
        guest = self.host.guest_by_uuid(uuid)
        if guest is None:
            repaired.append('domain definition')
        if not os.path.exists(self.paths.xml(uuid)):
            repaired.append('libvirt.xml')
        repaired.extend(self.rebuilder.ensure(record))
        if repaired:
            op.event('repair', recreated=repaired)
        if guest is not None:
            op.step('destroy')
            guest.destroy()
            guest.undefine(keep_nvram=True)
        op.step('define domain')
        guest = self.host.define(write_guest_xml(self.paths, record))
        op.step('start domain')
        guest.launch()
        op.step('wait for running')
        wait_running(guest, wait_timeout)
        return repaired
