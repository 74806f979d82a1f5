# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one sequence every module engine runs: look, report or lock, look
again, act.

1. ``assess(None)`` looks at this host's records and libvirt, without any
   lock, and plans (with the flow's pure policy): the look.
2. In check mode ``report(look)`` turns that plan into the result: nothing
   is locked, nothing is written.
3. Otherwise the locks are taken one after the other, in the order given
   (libvirt_instance: the per-name lock, then the per-instance lock). Each
   ``lock(look)`` makes its lock from the latest look (a lock needs the
   instance's uuid, which the look found), or returns None when the look
   needs no (further) lock: there is nothing to do. After each lock is
   taken, ``assess(look)`` looks again: what another run did while this one
   waited is seen.
4. ``act(look)`` carries out the plan of the last look, still under every
   lock; the locks are released in reverse order afterwards.

Check mode and the real run therefore compute their plan with the same
``assess``; the real run acts on the plan made under its locks.

Two flows differ, and say so with a keyword:
``look_first=False``: the real run takes its first lock without looking
first (libvirt_instance: the per-name lock needs only the name, and a second
run of a name being built must wait for the first instead of refusing the
build in progress); ``check_locked=True``: check mode takes the locks and
looks under them too, then reports instead of acting (instance_migrate
reads the migration record under the instance lock either way).
"""

from __future__ import annotations

from contextlib import ExitStack


def converge(check_mode, assess, act, report, locks=(), look_first=True, check_locked=False):
    """Run the sequence above; returns what ``report`` or ``act`` returns."""
    if check_mode and not check_locked:
        return report(assess(None))
    look = assess(None) if look_first or check_mode else None
    return under_locks(locks, assess, report if check_mode else act, look)


def under_locks(locks, assess, act, look=None):
    """Steps 3 and 4: take each lock of ``locks`` (a callable of the latest
    look giving a context manager, or None to stop locking), look again
    under it, then ``act`` on the last look."""
    with ExitStack() as held:
        for lock in locks:
            context = lock(look)
            if context is None:
                break
            held.enter_context(context)
            look = assess(look)
        return act(look)
