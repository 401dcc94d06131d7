-- Provider settings of an integration that are not secret (analytics spec §7.2): the Jira
-- account email of basic authentication, the project keys to search and the story-point field.
-- The credential itself stays in secret_ct. Kept in step with ../postgres/0007_integration_settings.sql.
ALTER TABLE integrations ADD COLUMN settings TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(settings));
