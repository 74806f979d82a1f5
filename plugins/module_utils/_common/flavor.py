# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Flavor values and the rule every resize obeys (pure)."""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common.spec import FLAVOR_FIELDS


def flavor_values(flavor):
    return dict((field, (flavor or {}).get(field, 0)) for field in FLAVOR_FIELDS)


def resize_problems(old, new):
    """Nova's resize checks: disks never shrink (root and ephemeral)."""
    problems = []
    for field in ('root_gb', 'ephemeral_gb'):
        if (new.get(field) or 0) < (old.get(field) or 0):
            problems.append('Unable to resize disk down: %s %s -> %s' % (field, old.get(field), new.get(field)))
    return problems
