-- Which rule of analytics spec §7.1 gave a work item its status (`org_status`, `org_label`,
-- `builtin_label`, `builtin_name`, `category`, `special`, `unmapped`), so the status-mapping
-- view can list each raw value with its source and flag the unmapped ones. Rows synced
-- before this column existed keep NULL until their next sync.
ALTER TABLE work_items ADD COLUMN status_source TEXT;
