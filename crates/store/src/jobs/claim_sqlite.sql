-- Claim up to $3 ready jobs of queue $1 for worker $4 with a lease until $5 (now = $2).
-- Runs inside BEGIN IMMEDIATE: SQLite has a single writer, so the UPDATE … RETURNING is atomic
-- and no two workers (threads or processes sharing the file) can claim the same job.
UPDATE jobs
SET status = 'running', attempts = attempts + 1, lease_owner = $4, lease_expires_at = $5,
    updated_at = $2
WHERE id IN (
    SELECT id FROM jobs
    WHERE queue = $1
      AND ((status = 'queued' AND run_at <= $2)
        OR (status = 'running' AND lease_expires_at <= $2 AND attempts < max_attempts))
    ORDER BY priority DESC, run_at, id
    LIMIT $3
)
RETURNING id, queue, kind, payload, org_id, status, priority, attempts, max_attempts, run_at,
          lease_owner, lease_expires_at, last_error, dedupe_key, created_at, updated_at, finished_at
