"""run_module: a collection error and any other exception both end in
fail_json with ``error`` and ``step``; success in exit_json."""

import os

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import InternalError, InvalidInput
from ansible_collections.novalite.compute.plugins.module_utils._module import boundary as _module_boundary


class FakeModule(object):
    """Records what the module exits with; both exits end the run like Ansible's."""

    def __init__(self):
        self.failed = None
        self.exited = None

    def fail_json(self, **result):
        self.failed = result
        raise SystemExit(1)

    def exit_json(self, **result):
        self.exited = result
        raise SystemExit(0)


def engine_raising(exc):
    class Engine(object):
        def __init__(self, module):
            self.module = module

        def run(self):
            raise exc
    return Engine


def _run(engine, default_step='instance'):
    module = FakeModule()
    old = os.umask(0o022)
    try:
        with pytest.raises(SystemExit):
            _module_boundary.run_module(module, engine, default_step=default_step)
        module.umask = os.umask(0o022)
    finally:
        os.umask(old)
    return module


def test_the_module_runs_under_a_private_umask():
    """What the modules and their commands create is private from the start."""
    class Engine(object):
        def __init__(self, module):
            self.module = module

        def run(self):
            return {'changed': False}
    assert _run(Engine).umask == 0o077


@pytest.fixture(autouse=True)
def libraries_present(monkeypatch):
    monkeypatch.setattr(_module_boundary, 'missing_library', lambda: None)


def test_unexpected_exception_fails_with_class_step_and_traceback():
    module = _run(engine_raising(KeyError('flavor')))
    failed = module.failed
    assert failed['error'] == 'KeyError' and failed['step'] == 'instance'
    assert 'KeyError' in failed['msg'] and "'flavor'" in failed['msg']
    assert 'Traceback' in failed['exception'] and "KeyError: 'flavor'" in failed['exception']
    assert module.exited is None


def test_collection_error_keeps_its_step_and_details():
    module = _run(engine_raising(InvalidInput('name must not be empty', step='validate', plan=[])))
    assert module.failed == {'msg': 'validate: name must not be empty', 'error': 'InvalidInput',
                             'step': 'validate', 'plan': []}


class WrappingEngine(object):
    """Fails as an operation does with an unexpected exception."""

    def __init__(self, module):
        self.module = module

    def run(self):
        try:
            return {}['flavor']
        except KeyError as exc:
            raise InternalError('unexpected KeyError: %s' % exc, step='guest xml') from exc


def test_wrapped_internal_error_carries_the_original_traceback():
    module = _run(WrappingEngine)
    assert module.failed['error'] == 'InternalError' and module.failed['step'] == 'guest xml'
    assert "KeyError: 'flavor'" in module.failed['exception']


def test_success_exits_with_the_result():
    class Engine(object):
        def __init__(self, module):
            pass

        def run(self):
            return {'changed': False}
    module = _run(Engine)
    assert module.exited == {'changed': False} and module.failed is None
