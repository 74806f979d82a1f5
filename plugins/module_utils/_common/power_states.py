# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The power states of a guest, pure: ``PowerState`` with Nova's numbering
(compute/power_state.py) and its labels (``PowerState.RUNNING.label`` is
``'running'``, the word records, observations and results use), and
``OFF_STATES``. Mapping libvirt's states onto these, and waiting for one, is
``_libvirt.power``'s."""

from __future__ import annotations

import enum


class PowerState(enum.IntEnum):
    NOSTATE = 0
    RUNNING = 1
    PAUSED = 3
    SHUTDOWN = 4
    CRASHED = 6
    SUSPENDED = 7

    @property
    def label(self):
        return self.name.lower()

    @classmethod
    def from_label(cls, label):
        if label is None:
            return None
        return cls[label.upper()]


# Power states in which a guest is not running any more.
OFF_STATES = frozenset((PowerState.SHUTDOWN, PowerState.CRASHED))
