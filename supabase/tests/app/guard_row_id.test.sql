-- A row's id names its workflow (`<kind>/<id>`), so app.guard_workflow_row keeps it fixed like the spec:
-- renumbered, a running row lost its workflow, and one given the id of an earlier row whose workflow
-- exists stayed queued for good (the webhook backstop skips an id that has a workflow), which
-- app.refuse_reused_workflow_id refuses on insert.
begin;
select plan(3);

set local client_min_messages = error;
insert into resonate.promises (id, state, timeout_at, created_at, settled_at) values
  ('images/00000000-0000-0000-0000-0000000000e1', 'resolved', 1, 1, 2);
insert into public.image_requests (id, prompt) values ('00000000-0000-0000-0000-0000000000e2', 'a cat');
insert into public.import_jobs (id, source_url) values ('00000000-0000-0000-0000-0000000000e3', 'https://example.com/a.csv');
reset client_min_messages;

set local role service_role;
select throws_ok($$update public.image_requests set id = '00000000-0000-0000-0000-0000000000e1'
                    where id = '00000000-0000-0000-0000-0000000000e2'$$,
                 '55000', null, 'service_role cannot give an image request the id of an earlier workflow');
reset role;
select throws_ok($$update public.import_jobs set id = gen_random_uuid() where id = '00000000-0000-0000-0000-0000000000e3'$$,
                 '55000', null, 'nor can the owner renumber an import job');
select lives_ok($$update public.import_jobs set id = id, status = 'staging' where id = '00000000-0000-0000-0000-0000000000e3'$$,
                'an update that leaves the id as it is passes');

select * from finish();
rollback;
