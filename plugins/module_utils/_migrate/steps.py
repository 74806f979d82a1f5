# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""instance_migrate's steps (the ``step`` option): name -> where it runs,
what it looks at, what check mode reports, what the real run does.

    start (source) -> prep (dest) -> migrate (source) -> finish (dest)
    -> confirm (dest, then source)  or  revert (dest, then source)

* ``start``   (source) — the move planned (``_migrate.policy.plan_move``)
  and the migration record written, task_state resize_prep
  (``MigrationSource.start``). Check mode reports the same move and plan,
  with no migration id, and writes nothing.
* ``prep``    (destination) — capacity claimed, networks and virt type
  checked, shared-storage probe written (``MigrationDest.prep``). Check mode:
  changed when this host has no copy of the migration yet.
* ``migrate`` (source) — the guest powered off, the instance directory
  renamed ``_resize`` and its disks copied to the destination and verified
  (``MigrationSource.migrate``, the copy in ``_migrate/transfer.py`` and
  ``_migrate/receiver.py``), the record handed over.
* ``finish``  (destination) — disks rebased and grown, domain defined and
  started for the new flavor (``MigrationDest.finish``).
* ``confirm`` (destination, then source) — the move kept: the claim
  released, the source's ``_resize`` copy and domain removed
  (``MigrationDest.confirm``, ``MigrationSource.confirm``).
* ``revert``  (destination, then source) — the move undone: the copy here
  removed, the source's ``_resize`` copy moved back and started
  (``MigrationDest.revert``, ``MigrationSource.revert``).

With ``live: true`` (a live migration, ``_migrate/live_*.py``) the same
steps are Nova's live flow: ``start`` checks the guest runs and records
its disks and CPU; ``prep`` is check_can_live_migrate_destination +
pre_live_migration (CPU, networks, memory, disks pre-created; check mode
runs the same refusals and shows the plan with the storage kind);
``migrate`` runs libvirt's peer-to-peer job (block migration unless
shared) and hands over; ``finish`` is post_live_migration_at_destination;
``revert`` is the rollback (destination, then source); ``abort`` (source,
no lock: the migrate run holds it) aborts libvirt's job; there is no
``confirm``.

For migrate, finish, confirm and revert, check mode reads the migration
record under the instance lock, as the real run does, and reports
``changed`` unless the migration is already done (confirmed, reverted).
A host that is both source and destination (same-host resize) does both
halves of confirm and revert in one run.

``looks_at`` says what the module reads before acting (see
``MigrateModule``): ``migration`` (prep: the migration passed in, no lock;
the instance is not on this host yet), ``instance`` (start: the record,
under its lock), ``move`` (the record and this host's copy of the
migration, under the instance lock).

Not to be confused with ``_common.steps``: the registry of the crash-point
step names (``op.step(...)``) each of these steps passes.
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common import migration_states as ms
from ansible_collections.novalite.compute.plugins.module_utils._common.errors import MigrationError
from ansible_collections.novalite.compute.plugins.module_utils._migrate import live_policy as lp

MIGRATION = 'migration'
INSTANCE = 'instance'
MOVE = 'move'
UNLOCKED_MOVE = 'unlocked move'


class MigrateStep(object):
    """``check(engine, record, migration)`` and ``run(engine, record,
    migration)`` fill ``engine.result`` (engine: the MigrateModule; its
    source, dest, migrations, params)."""

    def __init__(self, looks_at, check, run):
        self.looks_at = looks_at
        self.check = check
        self.run = run


# -- start (source) -------------------------------------------------------------------
def _start(engine, record, check_mode):
    dest_host, flavor, dest = engine.start_request
    if engine.params.get('live'):
        changed, migration, plan = engine.live_source.start(record, dest_host, dest, engine.live_options,
                                                            flavor=flavor, check_mode=check_mode)
    else:
        changed, migration, plan = engine.source.start(record, dest_host, flavor, dest, check_mode=check_mode)
    engine.result.update(changed=changed, migration=migration, plan=plan)


def _check_start(engine, record, _migration):
    _start(engine, record, True)


def _run_start(engine, record, _migration):
    _start(engine, record, False)


# -- prep (destination) -------------------------------------------------------------------
def _check_prep(engine, _record, migration):
    if lp.is_live(migration):
        # the same refusals as the real run (nothing is written), and the plan with the storage kind
        shared, free = engine.live_dest.check(migration, check_mode=True)
        storage = lp.SHARED if shared else lp.BLOCK
        engine.result.update(free=free, storage=storage, plan=lp.live_plan(migration, storage))
    engine.result.update(changed=engine.migrations.load(migration['id']) is None, migration=migration)


def _run_prep(engine, _record, migration):
    if lp.is_live(migration):
        changed, free, storage = engine.live_dest.prep(migration)
        engine.result.update(storage=storage, plan=lp.live_plan(migration, storage))
    else:
        changed, free = engine.dest.prep(migration)
    engine.result.update(changed=changed, migration=engine.migrations.load(migration['id']), free=free)


# -- migrate, finish, confirm, revert -----------------------------------------------------
def _check_move(engine, _record, migration):
    """Check mode of the steps of a started move: changed unless it is done."""
    engine.result.update(changed=migration['status'] not in ms.DONE, migration=migration)


def _check_migrate(engine, record, migration):
    if lp.is_live(migration) and migration['status'] not in ms.DONE:
        engine.live_source.check_migrate(record, migration, engine.given)
    _check_move(engine, record, migration)


def _run_migrate(engine, record, migration):
    """Source: power off, copy the disks, hand the record over (live: the
    files libvirt does not move, libvirt's job, the hand-over; ``migration``
    passed in: prep's result, whose storage decision it follows)."""
    if lp.is_live(migration):
        outcome = engine.live_source.migrate(record, migration, engine.given)
        engine.result.update(outcome, changed=True, migration=engine.migrations.load(migration['id']))
        return
    outcome = engine.source.migrate(record, migration, shutdown_timeout=engine.params['shutdown_timeout'])
    engine.result.update(outcome, changed=True, migration=engine.migrations.load(migration['id']))


def _run_finish(engine, record, migration):
    if lp.is_live(migration):
        changed = engine.live_dest.finish(record, migration)
        engine.result.update(changed=changed, migration=engine.migrations.load(migration['id']))
        return
    changed = engine.dest.finish(record, migration, wait_timeout=engine.params['wait_timeout'])
    engine.result.update(changed=changed, migration=engine.migrations.load(migration['id']))


def _run_confirm(engine, record, migration):
    if lp.is_live(migration):
        raise MigrationError('migration %s is a live migration: it has no confirm (finish completes it)'
                             % migration['id'], step='confirm')
    changed = False
    if migration['dest_compute'] == engine.this_host:
        changed = engine.dest.confirm(record, migration)
        migration = engine.migrations.load(migration['id'])
    if migration['source_compute'] == engine.this_host:
        reported = (engine.params.get('migration') or {}).get('status')
        changed = engine.source.confirm(record, migration, reported_status=reported) or changed
    engine.result.update(changed=changed, migration=engine.migrations.load(migration['id']))


def _rollback_live(engine, record, migration):
    """A live migration's revert is Nova's rollback: on the source
    (rollback_live_migration: the guest must still run there), then on the
    destination (rollback_live_migration_at_destination), which ends its copy
    as the source's did (``migration`` passed in: cancelled or error)."""
    changed = False
    if migration['source_compute'] == engine.this_host:
        if record is None:
            raise MigrationError('no record of instance %s on the source host' % migration['instance_uuid'],
                                 step='revert')
        changed = engine.live_source.rollback(engine.store.load(record.uuid), migration)
    if migration['dest_compute'] == engine.this_host:
        reported = (engine.params.get('migration') or {}).get('status')
        final = reported if reported in (ms.CANCELLED, ms.ERROR) else ms.ERROR
        changed = engine.live_dest.rollback(record, migration, final_status=final) or changed
    engine.result.update(changed=changed, migration=engine.migrations.load(migration['id']))


def _run_revert(engine, record, migration):
    if lp.is_live(migration):
        _rollback_live(engine, record, migration)
        return
    changed = False
    if migration['dest_compute'] == engine.this_host:
        changed = engine.dest.revert(record, migration)
        migration = engine.migrations.load(migration['id'])
    if migration['source_compute'] == engine.this_host:
        if record is None:
            raise MigrationError('no record of instance %s on the source host' % migration['instance_uuid'],
                                 step='revert')
        changed = engine.source.revert(engine.store.load(record.uuid), migration,
                                       wait_timeout=engine.params['wait_timeout']) or changed
    engine.result.update(changed=changed, migration=engine.migrations.load(migration['id']))


# -- abort (source, live) ---------------------------------------------------------------
def _check_abort(engine, _record, migration):
    lp.check_live_status(migration, 'abort')
    engine.result.update(changed=True, migration=migration)


def _run_abort(engine, record, migration):
    changed = engine.live_source.abort(record, migration)
    engine.result.update(changed=changed, migration=engine.migrations.load(migration['id']))


STEPS = {
    'start': MigrateStep(INSTANCE, check=_check_start, run=_run_start),
    'prep': MigrateStep(MIGRATION, check=_check_prep, run=_run_prep),
    'migrate': MigrateStep(MOVE, check=_check_migrate, run=_run_migrate),
    'finish': MigrateStep(MOVE, check=_check_move, run=_run_finish),
    'confirm': MigrateStep(MOVE, check=_check_move, run=_run_confirm),
    'revert': MigrateStep(MOVE, check=_check_move, run=_run_revert),
    # no lock: the migrate step holds it while libvirt's job runs
    'abort': MigrateStep(UNLOCKED_MOVE, check=_check_abort, run=_run_abort),
}
