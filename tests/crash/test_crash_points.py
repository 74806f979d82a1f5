"""Crash anywhere, recover with one command.

For every named step of every operation (``_common.steps.STEPS``), the real module
code is killed at that step (NOVALITE_FAILPOINT) in two variants - the
module process dies; or the host loses power: the module dies, the
instance's QEMU is SIGKILLed and that host's libvirtd restarted. Then
``playbooks/reconcile.yml`` runs over both hypervisors, and each instance
must be consistent: one owner, no task state, vm_state agreeing with the
domain, no partial/temporary/probe files, no instance dir on a host that
does not own it, no migration left open (so it can be moved again, which
the move lanes then do), its data intact; and a second recovery run
changes nothing.

Points are grouped in lanes (one instance each, reset after every point);
all lanes of both variants crash together in a wave, then one recovery
covers the wave. The last line is ``crash points: N of N converged``."""

import hashlib
import os
import subprocess
import threading
import time
import uuid as uuidlib
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.novalite.compute.plugins.module_utils._common.failpoints import name_of
from ansible_collections.novalite.compute.plugins.module_utils._common.steps import STEPS
from ansible_collections.novalite.compute.plugins.module_utils._store.host_service import HostServiceStore
from ansible_collections.novalite.compute.plugins.module_utils._store.paths import InstancePaths

import harness
from harness import KILLED, ok, run

FLAVOR = {'vcpus': 1, 'memory_mb': 96, 'root_gb': 1, 'swap_mb': 8}
MARKER = ('0x5a', '256M', '64k')


def sha256(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b''):
            digest.update(chunk)
    return digest.hexdigest()


def qemu_io(disk, command, write=False):
    argv = ['qemu-io', '-f', 'qcow2'] + ([] if write else ['-U', '-r']) + ['-c', command, disk]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    return proc.returncode == 0 and 'failed' not in proc.stdout + proc.stderr


# --- lanes -------------------------------------------------------------------------------
class Lane(object):
    """One instance and the crash points it walks through, one per wave.
    ``attempt(point)`` brings the instance to where the point can be
    reached and runs the operation with it armed; ``check(point)`` returns
    extra problems after recovery; ``reset()`` gets it ready for the next."""

    points = ()
    has_instance = True         # the instance invariants apply after recovery

    def __init__(self, suite, variant, index):
        self.suite = suite
        self.a, self.b, self.c = suite.a, suite.b, suite.c
        self.variant = variant
        self.name = '%s-%s%d' % (suite.prefix, variant[:2], index)
        self.uuid = None
        self.crashed_on = None

    def expect_owner(self, point):
        return True

    def spawn(self, state='running', host=None):
        host = host or self.a
        result = ok(host, 'libvirt_instance', {
            'name': self.name, 'state': state, 'virt_type': os.environ['NOVALITE_VIRT_TYPE'],
            'image': {'url': 'file://' + os.environ['NOVALITE_TEST_IMAGE']}, 'flavor': FLAVOR})
        self.uuid = result['instance']['uuid']
        return result

    def armed(self, host, module, args, point):
        """Run with the point armed; note where it fired."""
        result = run(host, module, args, failpoint=point)
        if result == KILLED:
            self.crashed_on = host
        return result

    def owner(self):
        for host in (self.a, self.b):
            rec = host.record(self.uuid) if self.uuid else None
            if rec and rec['host'] == host.name and rec['vm_state'] != 'deleted':
                return host
        return None

    def check(self, point):
        return []

    def reset(self):
        pass


class CreateLane(Lane):
    """libvirt_instance building a new instance; recovery puts it in error,
    and the lane deletes it."""

    points = tuple(name_of('create', step) for step in STEPS['create'])

    def attempt(self, point):
        self.name = '%s-c%s' % (self.suite.prefix, uuidlib.uuid4().hex[:4])
        self.uuid = str(uuidlib.uuid4())
        return self.armed(self.a, 'libvirt_instance', {
            'name': self.name, 'uuid': self.uuid, 'virt_type': os.environ['NOVALITE_VIRT_TYPE'],
            'image': {'url': 'file://' + os.environ['NOVALITE_TEST_IMAGE']}, 'flavor': FLAVOR}, point)

    def expect_owner(self, point):
        return point != name_of('create', 'scheduling')      # killed before the first record

    def check(self, point):
        rec = self.a.record(self.uuid)
        if self.expect_owner(point) and rec['vm_state'] != 'error':
            return ['an interrupted build is %s, not error' % rec['vm_state']]
        return []

    def reset(self):
        if self.a.record(self.uuid):
            ok(self.a, 'libvirt_instance', {'name': self.name, 'uuid': self.uuid, 'state': 'absent'})


class LifecycleLane(Lane):
    """Power, lock, metadata, redefinition, in-place resize, delete."""

    points = tuple(name_of(action, step) for action in ('stop', 'start', 'lock', 'unlock', 'update', 'redefine',
                                                        'resize_in_place', 'delete')
                   for step in STEPS[action])

    def attempt(self, point):
        action = point.split(':')[0]
        if self.uuid is None:
            self.spawn('stopped')
            self.flavor = dict(FLAVOR)
        args = {'name': self.name}
        want = {'stop': 'running', 'start': 'stopped'}.get(action, 'stopped')
        if action != 'delete':
            ok(self.a, 'libvirt_instance', dict(args, state=want, locked=action == 'unlock'))
        if action == 'stop':
            args['state'] = 'stopped'
        elif action == 'start':
            args['state'] = 'running'
        elif action in ('lock', 'unlock'):
            args.update(state='stopped', locked=action == 'lock')
        elif action == 'update':
            args.update(state='stopped', metadata={'wave': point})
        elif action == 'redefine':
            conn = self.a.connect()
            conn.lookupByUUIDString(self.uuid).undefine()
            conn.close()
            args['state'] = 'stopped'
        elif action == 'resize_in_place':
            self.flavor['root_gb'] += 1
            args.update(state='stopped', flavor=self.flavor)
        elif action == 'delete':
            args['state'] = 'absent'
        self.disk_sum = sha256(os.path.join(self.a.path, self.uuid, 'disk')) if action != 'resize_in_place' \
            else None
        return self.armed(self.a, 'libvirt_instance', args, point)

    def expect_owner(self, point):
        # killed before task_state deleting was saved, the instance stays
        return point != name_of('delete', 'delete')

    def check(self, point):
        disk = os.path.join(self.a.path, self.uuid, 'disk')
        if self.disk_sum and os.path.exists(disk) and sha256(disk) != self.disk_sum:
            return ['the root disk changed']
        if not self.expect_owner(point) and os.path.exists(os.path.join(self.a.path, self.uuid)):
            return ['a deleted instance kept its dir']
        return []


class RebootLane(Lane):
    """instance_reboot, soft for the soft step, hard for the others."""

    points = tuple(name_of('reboot', step) for step in STEPS['reboot'])

    def attempt(self, point):
        if self.uuid is None:
            self.spawn('running')
        ok(self.a, 'libvirt_instance', {'name': self.name, 'state': 'running'})
        self.disk_sum = sha256(os.path.join(self.a.path, self.uuid, 'disk'))
        kind = 'soft' if point == name_of('reboot', 'soft reboot') else 'hard'
        return self.armed(self.a, 'instance_reboot', {'name': self.name, 'type': kind, 'soft_timeout': 30}, point)

    def check(self, point):
        if sha256(os.path.join(self.a.path, self.uuid, 'disk')) != self.disk_sum:
            return ['the root disk changed']
        return []


class MoveLane(Lane):
    """A cold migration (or resize) from whichever host owns the instance to
    the other one, confirmed; the instance moves back and forth."""

    move_points = ('migrate', 'resize', 'compute_prep_resize', 'compute_resize_instance')
    points = tuple(name_of(action, step) for action in move_points for step in STEPS[action])

    def attempt(self, point):
        if self.uuid is None:
            self.spawn('stopped')
            write_marker(self.a.path, self.uuid)
        source, dest = self.running_owner()
        flavor = None
        if point.startswith('resize:'):
            memory = source.record(self.uuid)['flavor']['memory_mb']
            flavor = dict(FLAVOR, memory_mb=128 if memory == 96 else 96)
        return self.move(source, dest, point, flavor)

    def running_owner(self):
        """(source, destination): the owner, with its guest running (a power
        loss in an earlier point may have left it stopped)."""
        source = self.owner()
        ok(source, 'libvirt_instance', {'name': self.name, 'state': 'running'})
        return source, self.b if source is self.a else self.a

    def move(self, source, dest, point, flavor=None, until='confirm'):
        start = {'name': self.name, 'step': 'start', 'dest_host': dest.name, 'dest_instances_path': dest.path,
                 'dest_ssh': self.suite.ssh_to(dest)}
        if flavor:
            start['flavor'] = flavor
        started = self.armed(source, 'instance_migrate', start, point)
        if started == KILLED:
            return KILLED
        assert not started.get('failed'), started
        migration = started['migration']
        steps = [(dest, {'step': 'prep', 'migration': migration}),
                 (source, {'name': self.name, 'step': 'migrate', 'shutdown_timeout': 30}),
                 (dest, {'name': self.name, 'step': 'finish'})]
        if until == 'confirm':
            steps.append((dest, {'name': self.name, 'step': 'confirm'}))
        for host, args in steps:
            result = self.armed(host, 'instance_migrate', args, point)
            if result == KILLED:
                return KILLED
            assert not result.get('failed'), (args, result)
        if until == 'confirm':
            confirm = {'name': self.name, 'step': 'confirm', 'migration': dict(migration, status='confirmed')}
            result = self.armed(source, 'instance_migrate', confirm, point)
            if result == KILLED:
                return KILLED
        return result

    def check(self, point):
        owner = self.owner()
        if owner is None:
            return []
        if not has_marker(owner.path, self.uuid):
            return ['the marker is gone on %s' % owner.name]
        return []

    def reset(self):
        """A move the recovery left resized (awaiting confirm) is confirmed,
        which proves it was left movable."""
        owner = self.owner()
        rec = owner.record(self.uuid) if owner else None
        if rec and rec['vm_state'] == 'resized':
            migration = owner.json('_migrations', rec['migration']['id'] + '.json')
            source = self.a if migration['source_compute'] == 'hostA' else self.b
            ok(owner, 'instance_migrate', {'name': self.name, 'step': 'confirm'})
            ok(source, 'instance_migrate', {'name': self.name, 'step': 'confirm',
                                            'migration': dict(migration, status='confirmed')})


class FinishLane(MoveLane):
    """The destination's finish and both halves of confirm."""

    points = tuple(name_of(action, step) for action in ('compute_finish_resize', 'compute_confirm_resize')
                   for step in STEPS[action])


class RevertLane(MoveLane):
    """A move left resized, then reverted: destination half, source half."""

    points = tuple(name_of(action, step) for action in ('compute_revert_resize', 'compute_finish_revert_resize')
                   for step in STEPS[action])

    def attempt(self, point):
        if self.uuid is None:
            self.spawn('stopped')
            write_marker(self.a.path, self.uuid)
        source, dest = self.running_owner()
        self.move(source, dest, None, until='finish')
        result = self.armed(dest, 'instance_migrate', {'name': self.name, 'step': 'revert'}, point)
        if result == KILLED:
            return KILLED
        assert not result.get('failed'), result
        return self.armed(source, 'instance_migrate', {'name': self.name, 'step': 'revert',
                                                       'migration': result['migration']}, point)


class LiveMoves(object):
    """A live migration of the lane's running guest between A and B, each
    step run with the point armed (a mixin of the live lanes)."""

    def live_start(self, source, dest, point, live_options=None):
        ssh = self.suite.ssh_to(dest)
        start = {'name': self.name, 'step': 'start', 'live': True, 'dest_host': dest.name,
                 'dest_instances_path': dest.path, 'dest_ssh': ssh, 'dest_libvirt_uri': dest.uri,
                 'live_options': dict({'migration_address': ssh['host']}, **(live_options or {}))}
        if self.c in (source, dest):
            # the shared instances_path: the sockets of the other daemon, memory only
            start['dest_uri'] = os.environ['NOVALITE_HOSTC_URI'] if dest is self.c \
                else os.environ['NOVALITE_HOSTC_A_URI']
            start['live_options']['permit_unsafe'] = True
        return self.armed(source, 'instance_migrate', start, point)

    def live_move(self, source, dest, point, live_options=None):
        started = self.live_start(source, dest, point, live_options)
        if started == KILLED:
            return KILLED
        assert not started.get('failed'), started
        prepared = self.armed(dest, 'instance_migrate', {'step': 'prep', 'migration': started['migration']}, point)
        if prepared == KILLED or prepared.get('failed'):
            return prepared
        steps = [(source, {'name': self.name, 'step': 'migrate', 'migration': prepared['migration']}),
                 (dest, {'name': self.name, 'step': 'finish'})]
        for host, args in steps:
            result = self.armed(host, 'instance_migrate', args, point)
            if result == KILLED or result.get('failed'):
                return result
        return result

    def running_guest(self):
        """(source, destination) with the lane's guest running on the source."""
        if self.uuid is None or self.owner() is None:
            self.spawn('stopped')
            write_marker(self.a.path, self.uuid)
        return self.running_owner()


class LiveMoveLane(LiveMoves, MoveLane):
    """A live migration of a running guest, from whichever host owns it to
    the other: start, prep, migrate, finish."""

    points = tuple(name_of(action, step) for action in ('live-migration', 'compute_pre_live_migration',
                                                        'compute_live_migration',
                                                        'compute_post_live_migration_at_destination')
                   for step in STEPS[action])

    def attempt(self, point):
        source, dest = self.running_guest()
        result = self.live_move(source, dest, point)
        if result != KILLED:
            assert not result.get('failed'), result.get('msg')
        return result

    def reset(self):
        pass


class LiveSharedLane(LiveMoveLane):
    """The same live migration between host A and host C, which share one
    instances_path: memory only, one record changing owner (so prep creates
    no disks: that point is the block lane's)."""

    points = tuple(p for p in LiveMoveLane.points if p != name_of('compute_pre_live_migration', 'create disks'))

    def owner(self):
        for host in (self.a, self.c):
            rec = host.record(self.uuid) if self.uuid else None
            if rec and rec['host'] == host.name and rec['vm_state'] != 'deleted':
                return host
        return None

    def running_owner(self):
        source = self.owner()
        ok(source, 'libvirt_instance', {'name': self.name, 'state': 'running'})
        return source, self.c if source is self.a else self.a


SLOW = {'bandwidth_mib': 1, 'completion_timeout': 2}     # times out after 12 s (2 s per GiB, 6 GiB counted)


class LiveRollbackLane(LiveMoves, MoveLane):
    """A live migration that fails (its completion timeout), rolled back
    with step=revert on the source, then the destination; and an abort
    killed while the job runs (the timeout still ends it)."""

    points = tuple(name_of(action, step) for action in ('compute_rollback_live_migration',
                                                        'compute_rollback_live_migration_at_destination',
                                                        'compute_live_migration_abort')
                   for step in STEPS[action])

    def attempt(self, point):
        source, dest = self.running_guest()
        started = self.live_start(source, dest, None, SLOW)
        assert not started.get('failed'), started.get('msg')
        prepared = ok(dest, 'instance_migrate', {'step': 'prep', 'migration': started['migration']})
        if point.startswith('compute_live_migration_abort:'):
            return self.abort_while_running(source, point, prepared['migration'])
        failed = self.abort_while_running(source, None, prepared['migration'])
        assert failed != KILLED and failed.get('failed'), failed if failed == KILLED else failed
        rolled = self.armed(source, 'instance_migrate', {'name': self.name, 'step': 'revert',
                                                         'migration': started['migration']}, point)
        if rolled == KILLED:
            return KILLED
        assert not rolled.get('failed'), rolled
        return self.armed(dest, 'instance_migrate', {'step': 'revert', 'migration': rolled['migration']}, point)

    def abort_while_running(self, source, point, prepared):
        log = os.path.join(source.path, '_records', self.uuid + '.actions.jsonl')
        seen = os.path.getsize(log) if os.path.exists(log) else 0       # earlier moves' events do not count
        outcome = {}
        mover = threading.Thread(target=lambda: outcome.update(
            result=run(source, 'instance_migrate', {'name': self.name, 'step': 'migrate', 'migration': prepared})))
        mover.start()
        try:
            wait_for_event(log, 'live_progress', after=seen)
            aborted = self.armed(source, 'instance_migrate', {'name': self.name, 'step': 'abort'}, point)
        finally:
            mover.join(120)
        return aborted if point else outcome.get('result')

    def reset(self):
        pass


def wait_for_event(path, event, after=0, timeout=60):
    """Until the action log ``path`` has ``event`` past byte ``after``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.exists(path):
            with open(path) as handle:
                handle.seek(after)
                if any('"event": "%s"' % event in line for line in handle):
                    return
        time.sleep(0.2)
    raise AssertionError('no %s event in %s' % (event, path))


class RecoveryLane(MoveLane):
    """The recovery's own actions (state_reconcile, ``reconcile:<kind>``),
    each killed in turn: the instance is first brought to where the
    recovery plans that action - by a real crash of another operation at
    one of its steps, or by what happens to a guest outside the
    collection (its QEMU dies; an operator starts or redefines its domain)
    - then state_reconcile runs, with the action's crash point armed, on
    the host whose plan has it (read first, as the playbook does, from the
    check-mode reports of both hosts). The wave's recovery must then
    converge as after any other crash. ``STAGES``: kind -> how to get
    there."""

    STAGES = {}

    def __init__(self, suite, variant, index):
        super().__init__(suite, variant, index)
        self.points = tuple(name_of('reconcile', kind) for kind in self.STAGES)
        self.expect = True

    def fresh(self):
        """A new instance (a new name: the last one may be deleted)."""
        self.name = '%s-r%s' % (self.suite.prefix, uuidlib.uuid4().hex[:5])
        self.uuid = None
        self.spawn('stopped')
        write_marker(self.a.path, self.uuid)

    def attempt(self, point):
        kind = point.split(':')[1]
        stage = getattr(self, 'stage_' + self.STAGES[kind])
        resume = stage()
        return self.armed_recovery(kind, point, resume=bool(resume))

    def expect_owner(self, point):
        return self.expect

    # -- the armed recovery ------------------------------------------------------------
    def armed_recovery(self, kind, point, resume=False):
        base = {'mode': 'both', 'resume_guests_state_on_host_boot': resume}
        reports = [ok(host, 'state_reconcile', dict(base, _ansible_check_mode=True))['report']
                   for host in (self.a, self.b)]
        args = dict(base, fleet=reports, instances=[self.uuid])
        planned = {}
        for host in (self.a, self.b):
            plan = ok(host, 'state_reconcile', dict(args, _ansible_check_mode=True))['plan']
            kinds = [action['action'] for entry in plan if entry['uuid'] == self.uuid for action in entry['actions']]
            planned[host.name] = kinds
            if kind in kinds:
                return self.armed(host, 'state_reconcile', args, point)
        raise AssertionError('no host plans %s for %s: %s' % (kind, self.uuid, planned))

    # -- single host (A) ---------------------------------------------------------------
    def instance(self, state='stopped'):
        """The lane's instance on host A, in ``state``."""
        if self.uuid is None or self.owner() is not self.a:
            self.fresh()
        ok(self.a, 'libvirt_instance', {'name': self.name, 'state': state})

    def crash(self, host, module, args, point):
        assert run(host, module, args, failpoint=point) == KILLED, 'the staging crash %s did not fire' % point

    def stage_interrupted_build(self):
        self.name = '%s-r%s' % (self.suite.prefix, uuidlib.uuid4().hex[:5])
        self.uuid = str(uuidlib.uuid4())
        self.crash(self.a, 'libvirt_instance', {
            'name': self.name, 'uuid': self.uuid, 'virt_type': os.environ['NOVALITE_VIRT_TYPE'],
            'image': {'url': 'file://' + os.environ['NOVALITE_TEST_IMAGE']}, 'flavor': FLAVOR},
            name_of('create', 'create disks'))

    def stage_interrupted_delete(self):
        self.instance()
        self.expect = False
        self.crash(self.a, 'libvirt_instance', {'name': self.name, 'state': 'absent'}, name_of('delete', 'delete'))

    def stage_restored_after_delete(self):
        """An operator put back a deleted instance's domain (from a backup
        of its libvirt.xml): the record says deleted, libvirt has it."""
        self.instance()
        conn = self.a.connect()
        xml = conn.lookupByUUIDString(self.uuid).XMLDesc(0)
        conn.close()
        ok(self.a, 'libvirt_instance', {'name': self.name, 'state': 'absent'})
        conn = self.a.connect()
        conn.defineXML(xml)
        conn.close()
        self.expect = False

    def stage_interrupted_hard_reboot(self):
        self.instance('running')
        self.crash(self.a, 'instance_reboot', {'name': self.name, 'type': 'hard'},
                   name_of('reboot', 'define domain'))

    def stage_reboot_cut_short_while_running(self):
        self.instance('running')
        self.crash(self.a, 'instance_reboot', {'name': self.name, 'type': 'hard'},
                   name_of('reboot', 'wait for running'))

    def stage_interrupted_stop(self):
        self.instance('running')
        self.crash(self.a, 'libvirt_instance', {'name': self.name, 'state': 'stopped'}, name_of('stop', 'power off'))

    def stage_interrupted_start(self):
        self.instance('stopped')
        self.crash(self.a, 'libvirt_instance', {'name': self.name, 'state': 'running'}, name_of('start', 'power on'))

    def stage_interrupted_resize_in_place(self):
        self.instance('stopped')
        flavor = dict(self.a.record(self.uuid)['flavor'])
        flavor['root_gb'] += 1
        self.crash(self.a, 'libvirt_instance', {'name': self.name, 'state': 'stopped', 'flavor': flavor},
                   name_of('resize_in_place', 'redefine'))

    def stage_guest_died(self):
        """The guest's QEMU dies (host power loss for that guest): the
        record says running, libvirt shut off."""
        self.instance('running')
        harness.kill_guests([self.uuid])
        harness.wait_shutoff(self.a, self.uuid)

    def stage_guest_died_on_host_boot(self):
        self.stage_guest_died()
        return 'resume'

    def stage_started_outside(self):
        """An operator starts a stopped instance's domain behind the
        collection's back."""
        self.instance('stopped')
        conn = self.a.connect()
        conn.lookupByUUIDString(self.uuid).create()
        conn.close()

    def stage_write_cut_short(self):
        """A writer killed between its write and its rename leaves a .tmp
        file in the instance directory (made here: no step boundary falls
        inside a write)."""
        self.instance('stopped')
        with open(os.path.join(self.a.path, self.uuid, 'libvirt.xml.tmp'), 'w') as handle:
            handle.write('<domain')

    # -- moves (A <-> B) -----------------------------------------------------------------
    def stage_move_cut_short(self, point):
        if self.uuid is None or self.owner() is None:
            self.fresh()
        source, dest = self.running_owner()
        assert self.move(source, dest, point) == KILLED, 'the staging crash %s did not fire' % point

    def stage_copy_cut_short(self):
        self.stage_move_cut_short(name_of('compute_resize_instance', 'copy disks'))

    def stage_handover_cut_short(self):
        self.stage_move_cut_short(name_of('compute_resize_instance', 'handed over'))

    def stage_finish_cut_short(self):
        self.stage_move_cut_short(name_of('compute_finish_resize', 'define domain'))

    def stage_confirm_cut_short(self):
        self.stage_move_cut_short(name_of('compute_confirm_resize', 'flush disks'))

    def stage_old_domain_restored(self):
        """A confirmed move, then an operator puts the old domain back on
        the source (from a backup of its libvirt.xml): the source's record
        names the other host, its libvirt has the domain."""
        if self.uuid is None or self.owner() is None:
            self.fresh()
        source, dest = self.running_owner()
        conn = source.connect()
        xml = conn.lookupByUUIDString(self.uuid).XMLDesc(0)
        conn.close()
        result = self.move(source, dest, None)
        assert result != KILLED and not result.get('failed'), result
        conn = source.connect()
        conn.defineXML(xml)
        conn.close()

    def check(self, point):
        owner = self.owner()
        if owner is None or self.STAGES.get(point.split(':')[1]) == 'interrupted_build':
            return []
        if not has_marker(owner.path, self.uuid):
            return ['the marker is gone on %s' % owner.name]
        return []

    def reset(self):
        """An instance recovery put in error is deleted; the next stage
        then starts from a new one."""
        self.expect = True
        rec = self.a.record(self.uuid) if self.uuid else None
        if rec and rec['vm_state'] == 'error':
            ok(self.a, 'libvirt_instance', {'name': self.name, 'uuid': self.uuid, 'state': 'absent'})
        if self.uuid is None or self.owner() is None:
            self.uuid = None
        else:
            super().reset()


class HostRecoveryLane(RecoveryLane):
    """The recovery's actions on one host's own instances."""

    STAGES = {
        'set_error': 'interrupted_build',
        'finish_deletion': 'interrupted_delete',
        'complete_deletion': 'restored_after_delete',
        'reboot': 'interrupted_hard_reboot',
        'clear_task_state': 'reboot_cut_short_while_running',
        'stop': 'interrupted_stop',
        'start': 'interrupted_start',
        'finish_resize': 'interrupted_resize_in_place',
        'resume': 'guest_died_on_host_boot',
        'record_power_state': 'guest_died',
        'sync_stop': 'guest_died',
        'force_stop': 'started_outside',
        'remove_leftovers': 'write_cut_short',
    }


class LiveRecoveryLane(LiveMoves, RecoveryLane):
    """The recovery's actions on live migrations, on either host."""

    STAGES = {
        'finish_live_migration': 'live_job_done',
        'cleanup_live_source': 'live_job_done',
        'rollback_live_migration': 'live_cut_before_job',
    }

    def stage_live_cut_short(self, point):
        if self.uuid is None or self.owner() is None:
            self.fresh()
        source, dest = self.running_owner()
        assert self.live_move(source, dest, point) == KILLED, 'the staging crash %s did not fire' % point

    def stage_live_job_done(self):
        """libvirt moved the guest; the source died before the hand-over."""
        self.stage_live_cut_short(name_of('compute_live_migration', 'post-migrating'))

    def stage_live_cut_before_job(self):
        self.stage_live_cut_short(name_of('compute_live_migration', 'live migration'))


class MoveRecoveryLane(RecoveryLane):
    """The recovery's actions on moves, on either host."""

    STAGES = {
        'revert_migration': 'copy_cut_short',
        'complete_handover': 'handover_cut_short',
        'finish_migration': 'finish_cut_short',
        'confirm_migration': 'confirm_cut_short',
        'destroy_domain': 'old_domain_restored',
    }


class Evacuations(object):
    """An instance of host B whose host "died" (its QEMU killed: fenced),
    rebuilt on host A by instance_evacuate from B's last record (a mixin).
    B answers again for the recovery, as a host that came back."""

    def dead_instance(self):
        self.name = '%s-e%s' % (self.suite.prefix, uuidlib.uuid4().hex[:5])
        self.uuid = None
        self.spawn('running', host=self.b)
        harness.kill_guests([self.uuid])
        harness.wait_shutoff(self.b, self.uuid)

    def evacuate(self, point=None):
        args = {'record': self.b.record(self.uuid), 'source_host': 'hostB'}
        if point is None:
            return ok(self.a, 'instance_evacuate', args)
        return self.armed(self.a, 'instance_evacuate', args, point)

    def check(self, point):
        """Evacuated (the owner is A): B kept nothing; rolled back (B): A
        kept nothing and B's disks, never touched, are there."""
        owner = self.owner()
        if owner is self.b and not os.path.exists(os.path.join(self.b.path, self.uuid, 'disk')):
            return ['rolled back to hostB, but its root disk is gone']
        return []

    def reset(self):
        """Each attempt starts from a new instance: this one is deleted
        where it ended (a guest left running would slow every later wave)."""
        owner = self.owner()
        if owner is not None:
            ok(owner, 'libvirt_instance', {'name': self.name, 'state': 'absent'})


class EvacuateLane(Evacuations, Lane):
    """Every step of an evacuation, killed; the recovery with B back rolls
    it back (the evacuation never finished) and B keeps everything."""

    points = tuple(name_of('evacuate', step) for step in STEPS['evacuate'])

    def attempt(self, point):
        self.dead_instance()
        return self.evacuate(point)


class EvacuationRecoveryLane(Evacuations, RecoveryLane):
    """The recovery's actions on evacuations: the returned source's cleanup,
    the destination completing its copy, and a rollback."""

    STAGES = {
        'clean_evacuated': 'evacuated',
        'complete_evacuation': 'evacuated_and_cleaned',
        'rollback_evacuation': 'evacuation_cut_short',
    }

    def stage_evacuated(self):
        self.dead_instance()
        self.evacuate()

    def stage_evacuated_and_cleaned(self):
        """B, back, has cleaned up: A completes its copy next."""
        self.stage_evacuated()
        base = {'mode': 'both'}
        reports = [ok(host, 'state_reconcile', dict(base, _ansible_check_mode=True))['report']
                   for host in (self.a, self.b)]
        ok(self.b, 'state_reconcile', dict(base, fleet=reports, instances=[self.uuid]))

    def stage_evacuation_cut_short(self):
        self.dead_instance()
        assert self.evacuate(name_of('evacuate', 'define domain')) == KILLED, 'the staging crash did not fire'


class ServiceLane(Lane):
    """hypervisor_service setting host A's placement flag, killed once the
    new state is durable in a temporary file and before it replaces the old
    one. After recovery the flag is as it was (enabled; never torn), no
    temporary file is left, and the module then sets it and converges. The
    lane has no instance: it checks the flag instead. One variant only: a
    power loss adds nothing (the temporary file is durable before the crash
    point), and two lanes would set the same flag at once."""

    points = tuple(name_of('service', step) for step in STEPS['service'])
    has_instance = False
    REASON = 'crash test'

    def __init__(self, suite, variant, index):
        super().__init__(suite, variant, index)
        if variant != 'process':
            self.points = ()

    def store(self):
        return HostServiceStore(InstancePaths(self.a.path), self.a.name)

    def attempt(self, point):
        return self.armed(self.a, 'hypervisor_service', {'enabled': False, 'disabled_reason': self.REASON}, point)

    def check(self, point):
        problems = []
        try:
            service = self.store().load()
        except Exception as exc:          # noqa: BLE001 - a torn or unreadable file is the finding
            return ['the service state cannot be read after recovery: %s' % exc]
        if (service['enabled'], service['disabled_reason']) != (True, None):
            problems.append('the flag is %s (%s), not the old one' % (service['enabled'], service['disabled_reason']))
        hosts_dir = InstancePaths(self.a.path).hosts_dir
        left = [f for f in os.listdir(hosts_dir) if f.startswith('.tmp-')] if os.path.isdir(hosts_dir) else []
        if left:
            problems.append('temporary files left in _hosts: %s' % left)
        again = ok(self.a, 'hypervisor_service', {'enabled': False, 'disabled_reason': self.REASON})
        if not again['changed'] or ok(self.a, 'hypervisor_service', {'enabled': False,
                                                                     'disabled_reason': self.REASON})['changed']:
            problems.append('hypervisor_service did not converge after recovery')
        return problems

    def reset(self):
        ok(self.a, 'hypervisor_service', {'enabled': True})


def write_marker(path, uuid):
    assert qemu_io(os.path.join(path, uuid, 'disk'), 'write -P %s %s %s' % MARKER, write=True)


def has_marker(path, uuid):
    return qemu_io(os.path.join(path, uuid, 'disk'), 'read -P %s %s %s' % MARKER)


LANES = (CreateLane, LifecycleLane, RebootLane, MoveLane, FinishLane, RevertLane, HostRecoveryLane,
         MoveRecoveryLane, LiveMoveLane, LiveSharedLane, LiveRollbackLane, LiveRecoveryLane, EvacuateLane,
         EvacuationRecoveryLane, ServiceLane)
VARIANTS = ('process', 'power')


# --- the suite -----------------------------------------------------------------------------
class Suite(object):
    def __init__(self, prefix, tmp_path):
        self.prefix = prefix
        self.a = harness.HostA(os.path.join('/var/lib/novalite-test', prefix))
        self.b = harness.HostB(os.path.join(os.environ['NOVALITE_HOSTB_INSTANCES'], prefix))
        # host C shares host A's instances_path: every lane's records, locks and
        # migrations are in its directory too, and its recovery runs over them
        self.c = harness.HostC(self.a.path)
        os.makedirs(self.a.path)
        self.b.mkdir()
        self.inventory = str(tmp_path / 'hosts.ini')
        with open(self.inventory, 'w') as handle:
            handle.write(harness.inventory_text(self.a, self.b, self.c))
        self.table = []

    def ssh_to(self, dest):
        if dest is self.c:
            return {'host': '127.0.0.1'}        # shared storage: nothing is sent over SSH
        if dest is self.b:
            return {'host': os.environ['NOVALITE_HOSTB_SSH_HOST'], 'port': int(os.environ['NOVALITE_HOSTB_SSH_PORT']),
                    'user': os.environ['NOVALITE_HOSTB_USER'], 'identity_file': os.environ['NOVALITE_HOSTB_SSH_KEY']}
        return {'host': os.environ['NOVALITE_HOSTB_SSH_HOST'], 'port': int(os.environ['NOVALITE_HOSTA_SSH_PORT']),
                'user': 'root', 'identity_file': os.environ['NOVALITE_HOSTB_MIGRATION_KEY'],
                'python': '/usr/bin/python3'}

    def wave(self, pairs):
        """Crash every (lane, point) of this wave, lose power where asked,
        recover once, check each, and check that recovering again does
        nothing. Appends to the table."""
        lock = threading.Lock()
        outcomes = {}

        def attempt(pair):
            lane, point = pair
            lane.crashed_on = None
            try:
                result = lane.attempt(point)
                verdict = 'killed' if result == KILLED else 'not reached (%s: %s)' % (
                    type(lane).__name__, str(result.get('msg') if isinstance(result, dict) else result)[:300])
            except Exception as exc:         # noqa: BLE001 - reported in the table
                verdict = 'setup failed: %s' % str(exc)[:900]
            with lock:
                outcomes[id(lane), point] = verdict       # two lanes may walk the same point

        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(attempt, pairs))
        power = [lane for lane, point in pairs if lane.variant == 'power' and lane.crashed_on is not None]
        if power:
            harness.kill_guests([lane.uuid for lane in power if lane.uuid])
            for host in set(lane.crashed_on for lane in power):
                host.restart_libvirtd()
        rc, out = harness.recover(self.inventory)
        rc2, out2 = harness.recover(self.inventory)
        second = harness.recap_changed(out2)
        conns = {'hostA': self.a.connect(), 'hostB': self.b.connect(), 'hostC': self.c.connect()}
        try:
            for lane, point in pairs:
                verdict = outcomes[id(lane), point]
                problems = []
                if verdict == 'killed':
                    if rc != 0:
                        problems.append('recovery failed: %s' % out[-1500:])
                    if lane.has_instance:
                        found, _owner = harness.invariants((self.a, self.b, self.c), conns, lane.uuid,
                                                           expect_owner=lane.expect_owner(point))
                        problems += found
                    problems += lane.check(point)
                    if rc2 != 0 or any(second.values()):
                        problems.append('the second recovery run changed %s' % second)
                    try:
                        lane.reset()
                    except AssertionError as exc:
                        problems.append('could not go on after recovery: %s' % str(exc)[:300])
                else:
                    problems.append(verdict)
                self.table.append((point, lane.variant, 'converged' if not problems else '; '.join(problems)))
        finally:
            for conn in conns.values():
                conn.close()

    def cleanup(self, conn):
        for dom in conn.listAllDomains(0):
            if dom.name().startswith(self.prefix):
                try:
                    if dom.isActive():
                        dom.destroy()
                    dom.undefine()
                except Exception:           # noqa: BLE001 - best effort
                    pass


def test_every_crash_point_converges(tmp_path, request):
    prefix = 'cr-%s' % uuidlib.uuid4().hex[:6]
    suite = Suite(prefix, tmp_path)
    covered = set()
    lanes = []
    for variant in VARIANTS:
        for index, lane_class in enumerate(LANES):
            lane = lane_class(suite, variant, index)
            lanes.append(lane)
            covered.update(lane.points)
    every = set(name_of(action, step) for action, steps in STEPS.items() for step in steps)
    missing = every - covered
    assert not missing, 'crash points without a lane: %s' % sorted(missing)
    only = os.environ.get('NOVALITE_CRASH_ONLY')      # while debugging one point: its name
    if only:
        for lane in lanes:
            lane.points = tuple(p for p in lane.points if p in only.split(','))
    try:
        waves = max(len(lane.points) for lane in lanes)
        for number in range(waves):
            suite.wave([(lane, lane.points[number]) for lane in lanes if number < len(lane.points)])
    finally:
        conns = (suite.a.connect(), suite.b.connect(), suite.c.connect())
        for conn in conns:
            suite.cleanup(conn)
            conn.close()
        subprocess.run(['rm', '-rf', suite.a.path], check=False)
        suite.b.remove()
    request.config.crash_table = suite.table
    converged = sum(1 for row in suite.table if row[2] == 'converged')
    assert converged == len(suite.table), '\n'.join('%s %s: %s' % row for row in suite.table if row[2] != 'converged')
