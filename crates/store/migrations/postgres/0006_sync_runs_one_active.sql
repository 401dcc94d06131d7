-- At most one queued or running sync run per (org, source, dataset) (analytics spec §3.1): a
-- second trigger finds the existing run instead of racing it.
CREATE UNIQUE INDEX sync_runs_one_active ON sync_runs (org_id, source_id, dataset)
    WHERE status IN ('queued', 'running');
