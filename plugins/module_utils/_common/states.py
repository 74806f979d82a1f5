# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vm_state and task_state values, as Nova's compute/vm_states.py and
compute/task_states.py name them. Pure constants: no libvirt, no Ansible."""

from __future__ import annotations

# vm_state: the stable state the instance is in.
ACTIVE = 'active'
BUILDING = 'building'
STOPPED = 'stopped'
PAUSED = 'paused'
SUSPENDED = 'suspended'
RESCUED = 'rescued'
RESIZED = 'resized'
SOFT_DELETED = 'soft-delete'
DELETED = 'deleted'
ERROR = 'error'

VM_STATES = (ACTIVE, BUILDING, STOPPED, PAUSED, SUSPENDED, RESCUED, RESIZED,
             SOFT_DELETED, DELETED, ERROR)

# task_state: the operation in progress (None when idle).
SCHEDULING = 'scheduling'
BLOCK_DEVICE_MAPPING = 'block_device_mapping'
NETWORKING = 'networking'
SPAWNING = 'spawning'

POWERING_OFF = 'powering-off'
POWERING_ON = 'powering-on'
DELETING = 'deleting'

REBOOTING = 'rebooting'
REBOOT_PENDING = 'reboot_pending'
REBOOT_STARTED = 'reboot_started'
REBOOTING_HARD = 'rebooting_hard'
REBOOT_PENDING_HARD = 'reboot_pending_hard'
REBOOT_STARTED_HARD = 'reboot_started_hard'

RESIZE_PREP = 'resize_prep'
RESIZE_MIGRATING = 'resize_migrating'
RESIZE_MIGRATED = 'resize_migrated'
RESIZE_FINISH = 'resize_finish'
RESIZE_REVERTING = 'resize_reverting'
RESIZE_CONFIRMING = 'resize_confirming'
MIGRATING = 'migrating'             # a live migration (Nova's task_states.MIGRATING)

# Not produced by this collection, but recognised when found in a record
# (Nova's names), so recovery knows what they mean.
REBUILDING = 'rebuilding'
REBUILD_BLOCK_DEVICE_MAPPING = 'rebuild_block_device_mapping'
REBUILD_SPAWNING = 'rebuild_spawning'
IMAGE_SNAPSHOT = 'image_snapshot'
IMAGE_SNAPSHOT_PENDING = 'image_snapshot_pending'
IMAGE_PENDING_UPLOAD = 'image_pending_upload'
IMAGE_UPLOADING = 'image_uploading'
PAUSING = 'pausing'
UNPAUSING = 'unpausing'

BUILD_TASK_STATES = (SCHEDULING, BLOCK_DEVICE_MAPPING, NETWORKING, SPAWNING)
REBUILD_TASK_STATES = (REBUILDING, REBUILD_BLOCK_DEVICE_MAPPING, REBUILD_SPAWNING)
SNAPSHOT_TASK_STATES = (IMAGE_SNAPSHOT, IMAGE_SNAPSHOT_PENDING, IMAGE_PENDING_UPLOAD, IMAGE_UPLOADING)
SOFT_REBOOT_STATES = (REBOOTING, REBOOT_PENDING, REBOOT_STARTED)
HARD_REBOOT_STATES = (REBOOTING_HARD, REBOOT_PENDING_HARD, REBOOT_STARTED_HARD)
RESIZE_STATES = (RESIZE_PREP, RESIZE_MIGRATING, RESIZE_MIGRATED, RESIZE_FINISH,
                 RESIZE_REVERTING, RESIZE_CONFIRMING)

# Action log names (Nova's instance_actions).
ACTION_CREATE = 'create'
ACTION_START = 'start'
ACTION_STOP = 'stop'
ACTION_DELETE = 'delete'
ACTION_UPDATE = 'update'
ACTION_REDEFINE = 'redefine'
ACTION_REBOOT = 'reboot'
ACTION_LOCK = 'lock'
ACTION_UNLOCK = 'unlock'
ACTION_RESIZE = 'resize'
ACTION_RESIZE_IN_PLACE = 'resize_in_place'
ACTION_RECONCILE = 'reconcile'
ACTION_MIGRATE = 'migrate'
ACTION_LIVE_MIGRATE = 'live-migration'
ACTION_EVACUATE = 'evacuate'
ACTION_SERVICE = 'service'           # hypervisor_service setting this host's flag
# Action events of a move, as Nova names them (one per compute step).
EVENT_PREP_RESIZE = 'compute_prep_resize'
EVENT_RESIZE_INSTANCE = 'compute_resize_instance'
EVENT_FINISH_RESIZE = 'compute_finish_resize'
EVENT_CONFIRM_RESIZE = 'compute_confirm_resize'
EVENT_REVERT_RESIZE = 'compute_revert_resize'
EVENT_FINISH_REVERT_RESIZE = 'compute_finish_revert_resize'
EVENT_PRE_LIVE_MIGRATION = 'compute_pre_live_migration'
EVENT_LIVE_MIGRATION = 'compute_live_migration'
EVENT_POST_LIVE_MIGRATION_DEST = 'compute_post_live_migration_at_destination'
EVENT_ROLLBACK_LIVE_MIGRATION = 'compute_rollback_live_migration'
EVENT_ROLLBACK_LIVE_MIGRATION_DEST = 'compute_rollback_live_migration_at_destination'
EVENT_LIVE_MIGRATION_ABORT = 'compute_live_migration_abort'
