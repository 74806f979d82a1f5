"""LiveJob: the blocking migration call in its thread, watched from the
caller's on a stepped clock. A scripted guest answers job_stats(); its
abort_job() and start_post_copy() release the call, which returns or
raises as libvirt's migrateToURI3 would. The deadline is virtual time
(each clock reading advances it), so when the timeout action runs does
not depend on how fast this machine is."""

import threading

import pytest

from ansible_collections.novalite.compute.plugins.module_utils._common.errors import HypervisorError, MigrationError
from ansible_collections.novalite.compute.plugins.module_utils._migrate.live_job import LiveJob, job_progress
from ansible_collections.novalite.compute.plugins.module_utils._migrate.live_policy import live_options

MiB, GiB = 1024 ** 2, 1024 ** 3
WAIT = 10                   # real seconds a scripted step may take before the test gives up
VIR_ERR_OPERATION_INVALID = 55


def stats(processed):
    """libvirt's jobStats(0) of a running migration job (type 2: unbounded)."""
    return {'type': 2, 'operation': 9, 'time_elapsed': processed, 'data_total': 300 * MiB,
            'data_processed': processed * MiB, 'data_remaining': 300 * MiB - processed * MiB,
            'memory_total': 256 * MiB, 'memory_dirty_rate': 12, 'memory_iteration': 1}


class StepClock(object):
    """A monotonic clock that moves ``step`` seconds at every reading."""

    def __init__(self, step, now=1000.0):
        self.step = step
        self.now = now

    def __call__(self):
        value = self.now
        self.now += self.step
        return value


class JobGuest(object):
    """The source Guest as LiveJob uses it. ``job_stats`` answers from
    ``answers`` (then {}: no job) and runs ``at_poll[n]`` on its n-th call;
    ``abort_job`` and ``start_post_copy`` are logged in ``calls`` and set
    events the migration call waits on."""

    def __init__(self, answers=()):
        self.answers = list(answers)
        self.polls = 0
        self.at_poll = {}
        self.calls = []
        self.aborted = threading.Event()
        self.post_copying = threading.Event()

    def job_stats(self):
        self.polls += 1
        if self.polls in self.at_poll:
            self.at_poll[self.polls]()
        return self.answers.pop(0) if self.answers else {}

    def abort_job(self):
        self.calls.append('abort_job')
        self.aborted.set()

    def start_post_copy(self):
        self.calls.append('start_post_copy')
        self.post_copying.set()


class Progress(object):
    def __init__(self):
        self.events = []

    def __call__(self, event, **fields):
        self.events.append((event, fields))

    def named(self, event):
        return [fields for name, fields in self.events if name == event]


def ends_at(guest, poll, first=None, last=None):
    """A migration call that ends at the guest's ``poll``-th look: it runs
    ``first()`` (e.g. waits for abort_job), waits for that look, then
    returns, or raises what ``last()`` raises (libvirt's error of an
    aborted job). That look waits for the call's thread to end, so the
    job lasts exactly ``poll`` looks however busy this machine is."""
    started, released, threads = threading.Event(), threading.Event(), []

    def end():
        released.set()
        wait(started, 'the migration call to start')
        threads[0].join(WAIT)
        assert not threads[0].is_alive(), 'the migration call did not end'

    def call():
        threads.append(threading.current_thread())
        started.set()
        if first is not None:
            first()
        wait(released, 'look %d' % poll)
        if last is not None:
            last()
    guest.at_poll[poll] = end
    call.threads = threads
    return call


def wait(event, what):
    if not event.wait(WAIT):
        raise AssertionError('waited %d s for %s' % (WAIT, what))


def options(**given):
    return live_options(dict(given, poll_interval=0.05))


def running(count):
    return [stats(n) for n in range(1, count + 1)]


# -- a job that completes --------------------------------------------------------------------------
def test_a_job_that_completes_returns_and_reports_its_progress():
    guest = JobGuest([stats(10), stats(100), stats(290)])
    call = ends_at(guest, 3)
    progress = Progress()
    job = LiveJob(guest, options(), 300 * MiB, progress, clock=StepClock(1.0))
    assert job.run(call) is job
    assert call.threads[0] is not threading.current_thread()
    assert (job.timed_out, job.post_copy, guest.calls, guest.polls) == (False, False, [], 3)
    assert job.last == stats(290)
    # the first look is reported at once, then every 2 s of the clock; libvirt's
    # 'type' and 'operation' are not kept
    assert progress.events == [
        ('live_progress', {'elapsed': 1.0, 'time_elapsed': 10, 'data_total': 300 * MiB, 'data_processed': 10 * MiB,
                           'data_remaining': 290 * MiB, 'memory_total': 256 * MiB, 'memory_dirty_rate': 12,
                           'memory_iteration': 1}),
        ('live_progress', dict(job_progress(stats(290)), elapsed=3.0)),
    ]
    assert job.seconds == 4.0                  # from before the first look to after the last


def test_a_look_without_a_job_keeps_the_last_statistics():
    guest = JobGuest([stats(10), stats(20), {}, {}])
    job = LiveJob(guest, options(), 300 * MiB, Progress(), clock=StepClock(1.0))
    job.run(ends_at(guest, 4))
    assert job.last == stats(20)


def test_no_deadline_never_aborts():
    """completion_timeout 0: however long the clock says it took."""
    guest = JobGuest(running(5))
    progress = Progress()
    job = LiveJob(guest, options(completion_timeout=0), 50 * GiB, progress, clock=StepClock(3600.0))
    job.run(ends_at(guest, 5))
    assert job.deadline is None and job.timed_out is False and guest.calls == []
    assert [fields['elapsed'] for _name, fields in progress.events] == [3600.0, 7200.0, 10800.0, 14400.0, 18000.0]


def test_job_progress_keeps_only_the_statistics_the_log_keeps():
    assert job_progress({'type': 2, 'operation': 9, 'downtime': 30, 'disk_total': 5, 'x': 1}) == {
        'downtime': 30, 'disk_total': 5}
    assert job_progress({}) == {}


# -- the completion timeout --------------------------------------------------------------------------
class Aborted(object):
    """libvirt's migrateToURI3 once its job is aborted: it raises."""

    def __init__(self):
        self.error = HypervisorError('live-migrating domain web1 to qemu+ssh://hv2/system failed: operation '
                                     'aborted: migration out job: canceled by client (libvirt error code 1)', code=1)

    def __call__(self):
        raise self.error


@pytest.mark.parametrize('given, gib, at', [
    ({}, 1.0, 1.0),
    ({'permit_post_copy': True}, 1.0, 1.0),                         # permitted, but the action is abort
    ({'timeout_action': 'force_complete'}, 1.0, 1.0),               # force without post-copy: abort
    ({}, 2.0, 2.0),                                                 # scaled by the GiB to move
])
def test_timeout_aborts_the_job_once_and_reraises_its_error(given, gib, at):
    guest = JobGuest(running(30))
    abort_look = int(at / 0.25)
    aborted = Aborted()
    # the job winds down over three more looks after the abort
    call = ends_at(guest, abort_look + 3, first=lambda: wait(guest.aborted, 'abort_job'), last=aborted)
    progress = Progress()
    job = LiveJob(guest, options(completion_timeout=1, **given), gib, progress, clock=StepClock(0.25))
    assert job.deadline == at
    with pytest.raises(HypervisorError, match='canceled by client') as caught:
        job.run(call)
    assert caught.value is aborted.error                            # the call's own exception
    assert job.timed_out is True and job.post_copy is False
    assert guest.calls == ['abort_job']                             # once, not at every look past the deadline
    assert progress.named('live_timeout') == [{'then': 'abort', 'elapsed': at}]
    assert guest.polls == abort_look + 3 and job.last == stats(abort_look + 3)


def test_a_timed_out_job_that_keeps_running_is_asked_to_abort_again():
    """An abort libvirt lost (seen while it waited on the NBD disk copy):
    asked again every ABORT_AGAIN_S until the job ends, never left early."""
    guest = JobGuest(running(40))
    aborted = Aborted()
    call = ends_at(guest, 20, last=aborted)                         # the job ignores the aborts until look 20
    progress = Progress()
    job = LiveJob(guest, options(completion_timeout=1), 2.0, progress, clock=StepClock(1.0))
    with pytest.raises(HypervisorError, match='canceled by client'):
        job.run(call)
    assert progress.named('live_timeout') == [{'then': 'abort', 'elapsed': 2.0}]
    assert [fields['elapsed'] for fields in progress.named('live_abort_again')] == [7.0, 12.0, 17.0]
    assert guest.calls == ['abort_job'] * 4 and guest.polls == 20


def test_a_job_that_ends_before_the_deadline_is_not_aborted():
    guest = JobGuest(running(10))
    progress = Progress()
    job = LiveJob(guest, options(completion_timeout=1), 1.0, progress, clock=StepClock(0.25))
    job.run(ends_at(guest, 3))                                      # looks at 0.25, 0.5, 0.75: the deadline is 1.0
    assert guest.calls == [] and job.timed_out is False and progress.named('live_timeout') == []


def test_force_complete_switches_to_post_copy_once_and_never_aborts():
    guest = JobGuest(running(30))
    call = ends_at(guest, 4 + 5, first=lambda: wait(guest.post_copying, 'start_post_copy'))   # 5 looks in post-copy
    progress = Progress()
    job = LiveJob(guest, options(completion_timeout=1, timeout_action='force_complete', permit_post_copy=True),
                  1.0, progress, clock=StepClock(0.25))
    assert job.run(call) is job
    assert guest.calls == ['start_post_copy']
    assert job.post_copy is True and job.timed_out is False
    assert progress.named('live_timeout') == [{'then': 'post-copy', 'elapsed': 1.0}]
    assert guest.polls == 9


# -- the call failing -------------------------------------------------------------------------------------
def test_an_exception_in_the_call_is_raised_in_the_callers_thread():
    guest = JobGuest(running(5))
    error = MigrationError('unable to connect to the destination')

    def refused():
        raise error

    call = ends_at(guest, 2, last=refused)
    job = LiveJob(guest, options(), 1.0, Progress(), clock=StepClock(1.0))
    with pytest.raises(MigrationError, match='unable to connect') as caught:
        job.run(call)
    assert caught.value is error and call.threads[0] is not threading.current_thread()
    assert guest.calls == [] and job.timed_out is False
    assert job.seconds == 3.0


def test_a_call_that_fails_at_once_is_raised_without_a_look():
    error = MigrationError('Requested operation is not valid: domain is not running')

    def call():
        raise error

    guest = JobGuest()
    with pytest.raises(MigrationError) as caught:
        LiveJob(guest, options(), 1.0, Progress(), clock=StepClock(1.0)).run(call)
    assert caught.value is error and guest.polls == 0


def test_a_base_exception_in_the_call_is_raised_too():
    def call():
        raise KeyboardInterrupt()

    with pytest.raises(KeyboardInterrupt):
        LiveJob(JobGuest(), options(), 0, Progress(), clock=StepClock(1.0)).run(call)


def test_a_job_that_ends_as_the_deadline_passes_is_not_lost():
    """The deadline passes just as libvirt's job ends: job_stats() finds no
    job any more (the source domain is gone: UNDEFINE_SOURCE), abort_job()
    is refused (no job to abort), and migrateToURI3 returns success. The
    guest runs on the destination; run() must report the call's success,
    not the refused abort."""
    guest = JobGuest(running(3))          # the 4th look, at the deadline (1.0 s): no job, the call returns

    def refuse_abort():
        guest.calls.append('abort_job')
        raise HypervisorError('aborting the job of domain web1 failed: Requested operation is not valid: '
                              'no job is active on the domain (libvirt error code 55)', code=VIR_ERR_OPERATION_INVALID)
    guest.abort_job = refuse_abort
    job = LiveJob(guest, options(completion_timeout=1), 1.0, Progress(), clock=StepClock(0.25))
    assert job.run(ends_at(guest, 4)) is job
