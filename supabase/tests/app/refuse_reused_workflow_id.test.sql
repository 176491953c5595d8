-- app.refuse_reused_workflow_id, the BEFORE INSERT trigger of import_jobs and image_requests: a row
-- whose id would name an existing workflow (`<kind>/<id>`: from a deleted row, or started by a forged
-- webhook) is refused, since the store would answer its start with the old workflow and it would never
-- run. A fresh id, or an id whose workflow exists only for the other kind, is accepted.
begin;
select plan(5);

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

select * from finish();
rollback;
