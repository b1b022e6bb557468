-- Client tokens (public, shipped in web pages and apps), the browser origins
-- they may be used from (space-separated; empty: any), and tokens whose
-- evaluations record no exposures.
ALTER TABLE tokens ADD COLUMN client BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE tokens ADD COLUMN origins TEXT NOT NULL DEFAULT '';
ALTER TABLE tokens ADD COLUMN no_exposures BOOLEAN NOT NULL DEFAULT FALSE;
