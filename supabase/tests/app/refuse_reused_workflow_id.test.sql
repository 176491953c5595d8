-- app.refuse_reused_workflow_id, the BEFORE INSERT trigger of import_jobs and image_requests: a row
-- whose id would name an existing workflow (`<kind>/<id>`: from a deleted row, or started by a forged
-- webhook) is refused, since the store would answer its start with the old workflow and it would never
-- run. A fresh id, or an id whose workflow exists only for the other kind, is accepted. resonate.gc
-- collects each attempt on its own, so an earlier row's workflow may be only its later retries: those
-- count too, or the new row's first run and the old retries made one workflow in workflow_runs.
begin;
select plan(8);

set local client_min_messages = error;
insert into resonate.promises (id, state, timeout_at, created_at, settled_at) values
  ('import/00000000-0000-0000-0000-000000000001', 'resolved', 9999999999999, 1, 2),
  ('images/00000000-0000-0000-0000-000000000002', 'pending', 9999999999999, 1, null);

select throws_ok($$insert into public.import_jobs (id, source_url) values ('00000000-0000-0000-0000-000000000001', 'x')$$,
                 '42710', null, 'an import job reusing a finished workflow''s id is refused');
select throws_like($$insert into public.image_requests (id, prompt) values ('00000000-0000-0000-0000-000000000002', 'x')$$,
                   '%workflow images/00000000-0000-0000-0000-000000000002 already exists (pending)%',
                   'an image request likewise, told which workflow and its state');
select lives_ok($$insert into public.image_requests (id, prompt) values ('00000000-0000-0000-0000-000000000001', 'x')$$,
                'the id of another kind''s workflow is free');
select lives_ok($$insert into public.import_jobs (source_url) values ('x')$$, 'a fresh id is accepted');

set local role service_role;
select throws_ok($$insert into public.import_jobs (id, source_url) values ('00000000-0000-0000-0000-000000000001', 'x')$$,
                 '42710', null, 'service_role is refused as well');
reset role;

-- After a partial gc: the first run (and retry-1) collected, a later retry kept.
insert into resonate.promises (id, state, timeout_at, created_at, settled_at) values
  ('import/00000000-0000-0000-0000-000000000003/retry-1', 'rejected', 9999999999999, 3, 4),
  ('images/00000000-0000-0000-0000-000000000004/retry-2', 'resolved', 9999999999999, 5, 6),
  ('images/00000000-0000-0000-0000-000000000004/retry-3', 'rejected', 9999999999999, 7, 8),
  ('images/00000000-0000-0000-0000-000000000005/retry-x', 'resolved', 9999999999999, 5, 6);
select throws_like($$insert into public.import_jobs (id, source_url) values ('00000000-0000-0000-0000-000000000003', 'x')$$,
                   '%workflow import/00000000-0000-0000-0000-000000000003/retry-1 already exists (rejected)%',
                   'an id whose first run was collected while a retry of it was kept is refused');
select throws_like($$insert into public.image_requests (id, prompt) values ('00000000-0000-0000-0000-000000000004', 'x')$$,
                   '%workflow images/00000000-0000-0000-0000-000000000004/retry-3 already exists (rejected)%',
                   'the refusal names the newest attempt kept');
select lives_ok($$insert into public.image_requests (id, prompt) values ('00000000-0000-0000-0000-000000000005', 'x')$$,
                'a promise under the id that is no attempt (not /retry-<n>) does not count');

select * from finish();
rollback;
