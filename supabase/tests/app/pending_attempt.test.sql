-- app.pending_attempt(base): the pending attempt of a workflow among `<base>`, `<base>/retry-1`, ...,
-- also when gc has collected the earlier ones; null when none is pending.
begin;
select plan(6);

select is(app.pending_attempt('k/1'), null, 'no workflow: null');

insert into resonate.promises (id, state, timeout_at, created_at) values ('k/1', 'pending', 9999999999999, 1);
select is(app.pending_attempt('k/1'), 'k/1', 'the first run when it is pending');

update resonate.promises set state = 'rejected', settled_at = 2 where id = 'k/1';
select is(app.pending_attempt('k/1'), null, 'null once it settled');

insert into resonate.promises (id, state, timeout_at, created_at, settled_at) values
  ('k/1/retry-1', 'rejected', 9999999999999, 3, 4), ('k/1/retry-2', 'pending', 9999999999999, 5, null);
select is(app.pending_attempt('k/1'), 'k/1/retry-2', 'a later retry that is pending');

insert into resonate.promises (id, state, timeout_at, created_at) values ('k/2/retry-1', 'pending', 9999999999999, 1);
select is(app.pending_attempt('k/2'), 'k/2/retry-1',
          'a retry whose first run gc collected (retry_workflow starts exactly that from the row)');
insert into resonate.promises (id, state, timeout_at, created_at) values
  ('k/3/retry-x', 'pending', 9999999999999, 1), ('k/3/retry-1:step', 'pending', 9999999999999, 1),
  ('k/30', 'pending', 9999999999999, 1), ('k/3/retry-1/retry-1', 'pending', 9999999999999, 1);
select is(app.pending_attempt('k/3'), null, 'ids that are not its attempts do not count');

select * from finish();
rollback;
