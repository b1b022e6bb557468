-- The repositories a webhook source may post for (delivery.Source.Repos),
-- as a JSON array; '' (every repository) for the sources made before.
ALTER TABLE delivery_sources ADD COLUMN repos TEXT NOT NULL DEFAULT '';
