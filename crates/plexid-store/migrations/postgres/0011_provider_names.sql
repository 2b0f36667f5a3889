-- Provider names are unique across both kinds of provider, as authentik's are (`provider with
-- this name already exists.`). Names that already repeat keep the oldest provider's; the others
-- get their id appended. Keep in step with migrations/sqlite/0011_provider_names.sql.
UPDATE provider SET name = name || ' (' || id || ')'
    WHERE id NOT IN (SELECT MIN(id) FROM provider GROUP BY name);
ALTER TABLE provider ADD CONSTRAINT provider_name_key UNIQUE (name);
