"""The one look/lock/act sequence (_module.runner), traced call by call."""

import contextlib

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._module.runner import converge, under_locks


class Trace(object):
    def __init__(self, needed=('name', 'instance')):
        self.calls = []
        self.looks = 0
        self.needed = needed

    def assess(self, previous):
        self.looks += 1
        self.calls.append('look %d' % self.looks)
        return {'look': self.looks, 'previous': previous}

    def lock(self, name):
        def make(look):
            if name not in self.needed:
                self.calls.append('no %s lock' % name)
                return None

            @contextlib.contextmanager
            def held():
                self.calls.append('lock %s (after look %s)' % (name, look and look['look']))
                try:
                    yield
                finally:
                    self.calls.append('unlock %s' % name)
            return held()
        return make

    def act(self, look):
        self.calls.append('act on look %d' % look['look'])
        return 'acted'

    def report(self, look):
        self.calls.append('report look %d' % look['look'])
        return 'reported'

    def run(self, check_mode, **kw):
        return converge(check_mode, self.assess, self.act, self.report,
                        locks=[self.lock('name'), self.lock('instance')], **kw)


def test_check_mode_reports_its_one_unlocked_look():
    trace = Trace()
    assert trace.run(True) == 'reported'
    assert trace.calls == ['look 1', 'report look 1']


def test_the_real_run_looks_again_under_each_lock_and_acts_on_the_last_look():
    trace = Trace()
    assert trace.run(False) == 'acted'
    assert trace.calls == ['look 1', 'lock name (after look 1)', 'look 2', 'lock instance (after look 2)', 'look 3',
                           'act on look 3', 'unlock instance', 'unlock name']


def test_a_lock_the_look_does_not_need_ends_the_locking():
    trace = Trace(needed=('name',))
    trace.run(False)
    assert trace.calls == ['look 1', 'lock name (after look 1)', 'look 2', 'no instance lock', 'act on look 2',
                           'unlock name']


def test_look_first_false_takes_the_first_lock_before_any_look():
    trace = Trace()
    trace.run(False, look_first=False)
    assert trace.calls[:2] == ['lock name (after look None)', 'look 1']
    assert trace.calls[-3:] == ['act on look 2', 'unlock instance', 'unlock name']


def test_check_locked_reports_what_it_saw_under_the_locks():
    trace = Trace()
    assert trace.run(True, check_locked=True) == 'reported'
    assert trace.calls == ['look 1', 'lock name (after look 1)', 'look 2', 'lock instance (after look 2)', 'look 3',
                           'report look 3', 'unlock instance', 'unlock name']
    assert 'act' not in ' '.join(trace.calls)


def test_a_failing_act_releases_every_lock_in_reverse_order():
    trace = Trace()

    def fail(_look):
        trace.calls.append('act fails')
        raise RuntimeError('boom')
    with pytest.raises(RuntimeError):
        under_locks([trace.lock('name'), trace.lock('instance')], trace.assess, fail)
    assert trace.calls[-3:] == ['act fails', 'unlock instance', 'unlock name']
