-- resonate.gc removes each attempt of a workflow on its own (`<base>` and each `<base>/retry-<n>` is a
-- root), oldest first, so a workflow may have its later attempts and not its first run. retry_workflow
-- must still name a new attempt, and a pending attempt must still keep its row from being deleted.
begin;
select plan(5);

set local client_min_messages = error;
insert into public.import_jobs (id, source_url, status, started_at, error) values
  ('00000000-0000-0000-0000-0000000000a1', 'https://example.com/a.csv', 'failed', now(), 'boom'),
  ('00000000-0000-0000-0000-0000000000a2', 'https://example.com/b.csv', 'failed', now(), 'boom');
reset client_min_messages;

-- a1: every attempt gone (the documented "retried from its row" case).
select is(public.retry_workflow('import/00000000-0000-0000-0000-0000000000a1'),
          'import/00000000-0000-0000-0000-0000000000a1/retry-1', 'a workflow with no record left starts as retry-1');
select throws_ok($$delete from public.import_jobs where id = '00000000-0000-0000-0000-0000000000a1'$$, '55006', null,
                 'its row cannot be deleted while that retry is pending');
select is(app.pending_attempt('import/00000000-0000-0000-0000-0000000000a1'),
          'import/00000000-0000-0000-0000-0000000000a1/retry-1', 'pending_attempt finds it');

-- a2: the first run and retry-1 collected, retry-2 (settled later) kept.
do $$ begin perform app.rpc_call('promise.create', '{"id": "import/00000000-0000-0000-0000-0000000000a2/retry-2", "timeoutAt": 9999999999999,
  "param": {"data": "cGFyYW0="}, "tags": {"resonate:target": "poll://any@importers", "resonate:scope": "global"}}'); end $$;
update resonate.promises set state = 'rejected', settled_at = created_at
 where id = 'import/00000000-0000-0000-0000-0000000000a2/retry-2';
select is(public.retry_workflow('import/00000000-0000-0000-0000-0000000000a2'),
          'import/00000000-0000-0000-0000-0000000000a2/retry-3', 'the next retry is numbered after the newest kept one');
select is((select state from resonate.promises where id = 'import/00000000-0000-0000-0000-0000000000a2/retry-3'),
          'pending', 'and it is a new pending workflow');

select * from finish();
rollback;
