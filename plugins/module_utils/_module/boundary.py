# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one error boundary every module's ``main()`` ends in: the libraries
checked, the engine run, a collection error turned into ``fail_json`` with
its class, step and details, any other exception (the last resort) into
``fail_json`` with its class and traceback, success into ``exit_json``."""

from __future__ import annotations

import os
import traceback

from ansible.module_utils.basic import missing_required_lib

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import InternalError, NovaliteError
from ansible_collections.novalite.compute.plugins.module_utils._module.requirements import missing_library


# Whatever the modules and their commands (qemu-img, mkswap, genisoimage)
# create is private from the start; the files others need get their mode
# explicitly (_store.paths FILE_MODE, DIR_MODE), so no fd is opened in a window.
UMASK = 0o077


def run_module(module, engine, default_step=None, libraries=True):
    """Run ``engine(module).run()`` and exit the module with its result.
    ``default_step`` names the step of an error that does not name one;
    ``libraries=False`` for a module that needs neither libvirt nor lxml
    (placement, on the controller)."""
    missing = missing_library() if libraries else None
    if missing:
        module.fail_json(msg=missing_required_lib(missing[0]), exception=missing[1])
    os.umask(UMASK)
    try:
        result = engine(module).run()
    except NovaliteError as exc:
        details = dict(exc.details)
        if isinstance(exc, InternalError):
            details['exception'] = traceback.format_exc()  # with the chained original
        module.fail_json(msg=str(exc), error=type(exc).__name__, step=exc.step or default_step, **details)
    except Exception as exc:
        module.fail_json(msg='unexpected %s: %s' % (type(exc).__name__, exc), error=type(exc).__name__,
                         step=default_step, exception=traceback.format_exc())
    module.exit_json(**result)
