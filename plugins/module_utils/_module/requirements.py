# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Python libraries every module needs on the hypervisor, imported once
here so a module can report a missing one with missing_required_lib."""

from __future__ import annotations

import traceback

_MISSING = []

try:
    import libvirt  # noqa: F401  pylint: disable=unused-import
except ImportError:
    _MISSING.append(('libvirt-python', traceback.format_exc()))

try:
    import lxml  # noqa: F401  pylint: disable=unused-import
except ImportError:
    _MISSING.append(('lxml', traceback.format_exc()))


def missing_library():
    """(pip name, import traceback) of the first missing library, or None."""
    return _MISSING[0] if _MISSING else None
