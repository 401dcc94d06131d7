-- Claim up to $3 ready jobs of queue $1 for worker $4 with a lease until $5 (now = $2).
-- SKIP LOCKED lets any number of workers on any number of replicas claim concurrently without
-- ever handing the same job to two of them. A running job whose lease expired (its worker died)
-- is ready again, unless it has used all its attempts (then the reaper dead-letters it).
WITH picked AS (
    SELECT id FROM jobs
    WHERE queue = $1
      AND ((status = 'queued' AND run_at <= $2)
        OR (status = 'running' AND lease_expires_at <= $2 AND attempts < max_attempts))
    ORDER BY priority DESC, run_at, id
    LIMIT $3
    FOR UPDATE SKIP LOCKED
)
UPDATE jobs AS j
SET status = 'running', attempts = j.attempts + 1, lease_owner = $4, lease_expires_at = $5,
    updated_at = $2
FROM picked
WHERE j.id = picked.id
RETURNING j.id, j.queue, j.kind, j.payload, j.org_id, j.status, j.priority, j.attempts,
          j.max_attempts, j.run_at, j.lease_owner, j.lease_expires_at, j.last_error, j.dedupe_key,
          j.created_at, j.updated_at, j.finished_at
