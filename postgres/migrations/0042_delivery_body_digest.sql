-- The SHA-256 digest of a webhook delivery's raw body
-- (delivery.Delivery.BodyDigest), unique per source: a body a source
-- already delivered is a redelivery whatever its delivery header says, as
-- the signature covers the body only. NULL for API calls and for the
-- deliveries stored before (their bodies are not kept). Kept as long as
-- the delivery's row, like its delivery_id.
ALTER TABLE delivery_deliveries ADD COLUMN body_digest TEXT;
CREATE UNIQUE INDEX delivery_deliveries_body ON delivery_deliveries (source, body_digest);
