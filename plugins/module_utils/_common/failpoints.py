# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Crash points for the crash-consistency tests (etcd's gofail, TiKV's
fail-rs): the one test hook in production code.

``reached(name)`` is called by the operation runner at every named step
(``Operation.step``, the migration destination's prep, each action of
state_reconcile). It does nothing unless the environment variable
``NOVALITE_FAILPOINT`` names that step; then it SIGKILLs its own process,
as a power cut or an OOM kill would, with no chance to clean up. It never
changes behaviour otherwise.

Names are ``<action>:<step>`` (see ``_common.steps.STEPS``).
"""

from __future__ import annotations

import os
import signal

ENVIRONMENT_VARIABLE = 'NOVALITE_FAILPOINT'


def name_of(action, step):
    return '%s:%s' % (action, step)


def reached(name):
    """Die here if the environment names this crash point."""
    if os.environ.get(ENVIRONMENT_VARIABLE) == name:
        os.kill(os.getpid(), signal.SIGKILL)
