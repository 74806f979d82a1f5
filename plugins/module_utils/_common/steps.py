# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every named step of every operation, by action (the name the action log
uses). Pure constants.

``Operation.step`` refuses a name that is not listed here, and the
crash-point suite (tests/crash/) kills the real code at every one of them,
so a new step cannot be added without a crash point.
"""

from __future__ import annotations

from ansible_collections.novalite.compute.plugins.module_utils._common import states as st
STEPS = {
    st.ACTION_CREATE: ('scheduling', 'networking', 'block_device_mapping', 'fetch image', 'create disks',
                       'config drive', 'guest xml', 'define domain', 'start domain', 'wait for running',
                       'finish'),
    st.ACTION_START: ('powering-on', 'power on', 'wait for running'),
    st.ACTION_STOP: ('powering-off', 'power off'),
    st.ACTION_DELETE: ('deleting', 'delete'),
    st.ACTION_REDEFINE: ('redefine',),
    st.ACTION_LOCK: ('lock',),
    st.ACTION_UNLOCK: ('unlock',),
    st.ACTION_UPDATE: ('update metadata',),
    st.ACTION_RESIZE_IN_PLACE: ('resize disks', 'redefine'),
    st.ACTION_REBOOT: ('acknowledge', 'soft reboot', 'recreate files', 'destroy', 'define domain', 'start domain',
                       'wait for running', 'finish'),
    # a move: start (source), prep (destination), migrate (source), finish
    # (destination), confirm or revert (destination, then source)
    st.ACTION_MIGRATE: ('migration record', 'resize_prep'),
    st.ACTION_RESIZE: ('migration record', 'resize_prep'),
    st.EVENT_PREP_RESIZE: ('probe', 'claim'),
    st.EVENT_RESIZE_INSTANCE: ('migrating', 'power off', 'rename instance dir', 'copy disks', 'hand over',
                               'send record', 'handed over'),
    st.EVENT_FINISH_RESIZE: ('resize_finish', 'attach base image', 'resize disks', 'define domain', 'power on',
                             'finish'),
    st.EVENT_CONFIRM_RESIZE: ('confirming', 'flush disks', 'confirmed', 'remove source copy',
                              'undefine source domain'),
    st.EVENT_REVERT_RESIZE: ('reverting', 'destroy domain', 'remove disks', 'hand back'),
    st.EVENT_FINISH_REVERT_RESIZE: ('reverting', 'restore instance dir', 'define domain', 'power on', 'reverted'),
    # a live migration: start (source), prep (destination: checks, claim,
    # disks), migrate (source: files, libvirt's job, hand-over, source
    # cleanup), finish (destination); rollback on either side
    st.ACTION_LIVE_MIGRATE: ('migration record', 'migrating'),
    st.EVENT_PRE_LIVE_MIGRATION: ('claim', 'probe', 'create disks'),
    st.EVENT_LIVE_MIGRATION: ('migrating', 'send files', 'live migration', 'post-migrating', 'hand over',
                              'remove source copy', 'handed over'),
    st.EVENT_POST_LIVE_MIGRATION_DEST: ('take over', 'completed'),
    st.EVENT_ROLLBACK_LIVE_MIGRATION: ('rolling back', 'rolled back'),
    st.EVENT_ROLLBACK_LIVE_MIGRATION_DEST: ('rolling back', 'destroy domain', 'remove disks', 'rolled back'),
    st.EVENT_LIVE_MIGRATION_ABORT: ('abort',),
    # an evacuation, on the destination (the source is down): the claim writes
    # the migration and the record; on a shared instances_path 'create disks'
    # only recreates what can be recreated without loss
    st.ACTION_EVACUATE: ('claim', 'fetch image', 'create disks', 'config drive', 'guest xml', 'define domain',
                         'start domain', 'wait for running', 'finish'),
    # hypervisor_service: the new state written to a temporary file, not yet
    # renamed over the old one
    st.ACTION_SERVICE: ('write service state',),
    # state_reconcile: one step per kind of action it takes (the action's
    # own operation, a stop or a reboot say, then has its steps as well)
    st.ACTION_RECONCILE: ('destroy_domain', 'complete_deletion', 'set_error', 'clear_task_state',
                          'finish_deletion', 'reboot', 'stop', 'start', 'revert_migration', 'resume',
                          'record_power_state', 'sync_stop', 'force_stop', 'finish_resize', 'finish_migration',
                          'confirm_migration', 'complete_handover', 'remove_leftovers', 'finish_live_migration',
                          'rollback_live_migration', 'cleanup_live_source', 'clean_evacuated',
                          'complete_evacuation', 'rollback_evacuation'),
}


def check_step(action, step):
    """Raise ValueError for a step the registry does not list (a programming
    error: every step must have a crash point)."""
    if step not in STEPS.get(action, ()):
        raise ValueError('step %r of action %r is not in _common.steps.STEPS' % (step, action))
