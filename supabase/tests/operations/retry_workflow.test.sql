-- public.retry_workflow(id): starts a failed workflow again as `<base>/retry-<n>` (n one more than the
-- retries so far), with the same function and arguments and its target; refuses a pending workflow and
-- one that succeeded; and when the durable record is gone (gc, a reset), starts it from its row, if the
-- workflow had started, on the group its kind's newest workflow went to.
begin;
select plan(15);

set local client_min_messages = error;
insert into public.import_jobs (id, source_url, status, started_at, error) values
  ('00000000-0000-0000-0000-00000000000a', 'https://example.com/a.csv', 'failed', now(), 'boom'),
  ('00000000-0000-0000-0000-00000000000b', 'https://example.com/b.csv', 'succeeded', now(), null),
  ('00000000-0000-0000-0000-00000000000c', 'https://example.com/c.csv', 'failed', now(), 'gone'),
  ('00000000-0000-0000-0000-00000000000d', 'https://example.com/d.csv', 'queued', null, null),
  ('00000000-0000-0000-0000-00000000000e', 'https://example.com/e.csv', 'failed', null, 'bad format');
reset client_min_messages;
do $$ begin perform app.rpc_call('promise.create', '{"id": "import/00000000-0000-0000-0000-00000000000a", "timeoutAt": 9999999999999,
  "param": {"data": "cGFyYW0="}, "tags": {"resonate:target": "poll://any@importers", "resonate:scope": "global"}}'); end $$;
insert into resonate.promises (id, state, timeout_at, created_at, settled_at) values
  ('import/00000000-0000-0000-0000-00000000000b', 'resolved', 9999999999999, 1, 2);

select throws_ok($$select public.retry_workflow('import/00000000-0000-0000-0000-00000000000a')$$, '55006', null,
                 'a pending workflow is not retried: cancel it first');
update resonate.promises set state = 'rejected', settled_at = created_at where id = 'import/00000000-0000-0000-0000-00000000000a';
select is(public.retry_workflow('import/00000000-0000-0000-0000-00000000000a'), 'import/00000000-0000-0000-0000-00000000000a/retry-1',
          'a failed workflow is started again as retry-1');
select is((select state || ' ' || (param ->> 'data') || ' ' || (tags ->> 'resonate:target') from resonate.promises
            where id = 'import/00000000-0000-0000-0000-00000000000a/retry-1'),
          'pending cGFyYW0= poll://any@importers', 'pending, with the same function and arguments and target');
select is((select tags ->> 'resonate:branch' from resonate.promises where id = 'import/00000000-0000-0000-0000-00000000000a/retry-1'),
          'import/00000000-0000-0000-0000-00000000000a/retry-1', 'as a root of its own');
select ok(exists (select from resonate.tasks where id = 'import/00000000-0000-0000-0000-00000000000a/retry-1' and state = 'pending'),
          'with a task for the workers');
select throws_ok($$select public.retry_workflow('import/00000000-0000-0000-0000-00000000000a')$$, '55006', null,
                 'while the retry runs, the workflow is not retried again');
update resonate.promises set state = 'rejected', settled_at = created_at where id = 'import/00000000-0000-0000-0000-00000000000a/retry-1';
select is(public.retry_workflow('import/00000000-0000-0000-0000-00000000000a/retry-1'), 'import/00000000-0000-0000-0000-00000000000a/retry-2',
          'the next retry, named by any attempt, is retry-2');

select throws_ok($$select public.retry_workflow('import/00000000-0000-0000-0000-00000000000b')$$, '22023', null,
                 'a workflow that succeeded is not retried');
update public.import_jobs set status = 'partially_succeeded' where id = '00000000-0000-0000-0000-00000000000b';
select is(public.retry_workflow('import/00000000-0000-0000-0000-00000000000b'), 'import/00000000-0000-0000-0000-00000000000b/retry-1',
          'but one whose row says it partially succeeded is');

select is(public.retry_workflow('import/00000000-0000-0000-0000-00000000000c'), 'import/00000000-0000-0000-0000-00000000000c/retry-1',
          'a started workflow whose record is gone is started from its row');
select is((select convert_from(decode(param ->> 'data', 'base64'), 'UTF8')::jsonb from resonate.promises
            where id = 'import/00000000-0000-0000-0000-00000000000c/retry-1'),
          '{"func": "importJob", "args": ["00000000-0000-0000-0000-00000000000c"], "version": 1}'::jsonb,
          'calling its kind''s workflow with the row id');
select is((select tags ->> 'resonate:target' from resonate.promises where id = 'import/00000000-0000-0000-0000-00000000000c/retry-1'),
          'poll://any@importers', 'on the group the newest import went to');

select throws_like($$select public.retry_workflow('import/00000000-0000-0000-0000-00000000000d')$$, '%has not started yet%',
                   'a row whose workflow has not started is not retried');
select throws_like($$select public.retry_workflow('import/00000000-0000-0000-0000-00000000000e')$$, '%never started: its row was refused (bad format)%',
                   'nor a row that was refused, saying why');
select throws_ok($$select public.retry_workflow('import/00000000-0000-0000-0000-0000000000ff')$$, 'P0002', null,
                 'an unknown workflow raises no_data_found');

select * from finish();
rollback;
