# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Before/after of managed fields for diff mode (the idea of
community.docker's DifferenceTracker): Ansible renders the two dicts."""

from __future__ import annotations


class DifferenceTracker(object):
    def __init__(self):
        self._items = []

    def add(self, name, before, after):
        self._items.append((name, before, after))

    @property
    def changed(self):
        return any(before != after for _name, before, after in self._items)

    def differences(self):
        return [{'name': name, 'before': before, 'after': after}
                for name, before, after in self._items if before != after]

    def get_diff(self):
        return {
            'before': dict((name, before) for name, before, _after in self._items if before is not None),
            'after': dict((name, after) for name, _before, after in self._items if after is not None),
        }
