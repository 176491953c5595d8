-- app.refuse_deleting_running_row, the BEFORE DELETE trigger of import_jobs and image_requests: a row
-- whose workflow, or a retry of it, is still pending cannot be deleted (cancel it first); once every
-- attempt has settled, or when it never had a workflow, it deletes as usual.
begin;
select plan(7);

set local client_min_messages = error;
insert into public.image_requests (id, prompt) values
  ('00000000-0000-0000-0000-000000000001', 'a cat'), ('00000000-0000-0000-0000-000000000002', 'a dog');
insert into public.import_jobs (id, source_url) values ('00000000-0000-0000-0000-000000000003', 'https://example.com/a.csv');
insert into resonate.promises (id, state, timeout_at, created_at) values
  ('images/00000000-0000-0000-0000-000000000001', 'pending', 9999999999999, 1),
  ('import/00000000-0000-0000-0000-000000000003', 'pending', 9999999999999, 1);

select throws_ok($$delete from public.image_requests where id = '00000000-0000-0000-0000-000000000001'$$,
                 '55006', null, 'a request whose workflow is pending cannot be deleted');
select throws_like($$delete from public.import_jobs where id = '00000000-0000-0000-0000-000000000003'$$,
                   '%cancel it first with select public.cancel_workflow(''import/00000000-0000-0000-0000-000000000003'')%',
                   'nor an import job, and the refusal says how to cancel it');

update resonate.promises set state = 'rejected', settled_at = 2 where id = 'images/00000000-0000-0000-0000-000000000001';
insert into resonate.promises (id, state, timeout_at, created_at) values
  ('images/00000000-0000-0000-0000-000000000001/retry-1', 'pending', 9999999999999, 3);
select throws_like($$delete from public.image_requests where id = '00000000-0000-0000-0000-000000000001'$$,
                   '%workflow images/00000000-0000-0000-0000-000000000001/retry-1 is pending%',
                   'a pending retry keeps the row too, and is named');

update resonate.promises set state = 'rejected_canceled', settled_at = 4
 where id = 'images/00000000-0000-0000-0000-000000000001/retry-1';
select lives_ok($$delete from public.image_requests where id = '00000000-0000-0000-0000-000000000001'$$,
                'once every attempt settled the row deletes');
select is_empty($$select from public.image_requests where id = '00000000-0000-0000-0000-000000000001'$$, 'and is gone');
select lives_ok($$delete from public.image_requests where id = '00000000-0000-0000-0000-000000000002'$$,
                'a row that never had a workflow deletes');

-- The check holds for a role that cannot read the resonate schema itself.
set local role service_role;
select throws_ok($$delete from public.import_jobs where id = '00000000-0000-0000-0000-000000000003'$$,
                 '55006', null, 'service_role is refused as well');
reset role;

select * from finish();
rollback;
