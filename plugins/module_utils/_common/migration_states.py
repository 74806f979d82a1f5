# Copyright (c) 2026 novalite.compute contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Migration statuses, as Nova's: pre-migrating -> migrating ->
post-migrating -> finished -> confirming -> confirmed, or -> reverting ->
reverted; error on failure. A live migration has no confirm: it ends
completed, or cancelled (aborted by the operator or its completion timeout,
the guest still on the source), or error (rolled back). An evacuation (the
source host is down) is accepted on its destination, done once the instance
runs there again, and completed when the source, back, has cleaned up.
Each host records the statuses it has seen itself (``_store.migrations``)."""

PRE_MIGRATING = 'pre-migrating'
MIGRATING = 'migrating'
POST_MIGRATING = 'post-migrating'
FINISHED = 'finished'
CONFIRMING = 'confirming'
CONFIRMED = 'confirmed'
REVERTING = 'reverting'
REVERTED = 'reverted'
ERROR = 'error'
COMPLETED = 'completed'
CANCELLED = 'cancelled'
ACCEPTED = 'accepted'
EVACUATED = 'done'

STATUSES = (PRE_MIGRATING, MIGRATING, POST_MIGRATING, FINISHED, CONFIRMING, CONFIRMED, REVERTING, REVERTED,
            ERROR, COMPLETED, CANCELLED, ACCEPTED, EVACUATED)
DONE = (CONFIRMED, REVERTED, COMPLETED, CANCELLED)
# Nothing more happens to a move in these statuses.
TERMINAL = DONE + (ERROR,)
# In flight: counts against the destination's capacity.
CLAIMING = (PRE_MIGRATING, MIGRATING, POST_MIGRATING, FINISHED, CONFIRMING, REVERTING)
