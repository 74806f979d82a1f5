"""Test-only callback: write each task result, unabridged, as JSON to the file
named by NOVALITE_RESULT_FILE (the integration tests read it)."""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
name: result_file
type: aggregate
short_description: write raw task results to $NOVALITE_RESULT_FILE
description: Test helper for novalite.compute's integration tests.
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'result_file'
    CALLBACK_NEEDS_ENABLED = True

    def _write(self, result, failed):
        data = dict(result._result)
        data['failed'] = failed or bool(data.get('failed'))
        with open(os.environ['NOVALITE_RESULT_FILE'], 'w') as handle:
            json.dump(data, handle, default=str)

    def v2_runner_on_ok(self, result):
        self._write(result, False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._write(result, True)

    def v2_runner_on_unreachable(self, result):
        self._write(result, True)
