-- Provider settings of an integration that are not secret (analytics spec §7.2): the Jira
-- account email of basic authentication, the project keys to search and the story-point field.
-- The credential itself stays in secret_ct. Kept in step with ../sqlite/0007_integration_settings.sql.
ALTER TABLE integrations ADD COLUMN settings jsonb NOT NULL DEFAULT '{}';
