-- A person erased at the host's request (`DELETE /api/v1/users/{id}`):
-- their email and name are gone from `users` (the row stays so the
-- program's accounting, which names the host's account id, still adds
-- up), and this marks when.
ALTER TABLE users ADD COLUMN erased_at BIGINT;
