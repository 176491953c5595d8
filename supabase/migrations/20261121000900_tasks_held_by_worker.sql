-- Every worker asks every few seconds which tasks the store shows held under its id (to release those
-- it is not running: a crashed predecessor's, or ones stranded by a database outage). Only acquired
-- tasks matter, and there are few of them next to the settled history, so a partial index answers that
-- without scanning the table.
create index if not exists tasks_acquired_by_pid on resonate.tasks (pid) where state = 'acquired';
