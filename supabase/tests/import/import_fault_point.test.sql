-- app.import_fault_point, the fault injection for tests and drills: with a row in
-- app.import_fault_injections, the batch's first fail_attempts attempts raise a real serialization
-- failure (SQLSTATE 40001, which the batch retries) at the 'inside' point, naming the batch and attempt;
-- later attempts, the 'before' point, other batches and jobs without a row pass untouched.
begin;
select plan(6);

insert into app.import_fault_injections (job_id, batch_index, fail_attempts)
  values ('00000000-0000-0000-0000-00000000000a', 1, 2);

select throws_ok($$select app.import_fault_point('00000000-0000-0000-0000-00000000000a', 1, 'inside', 1)$$, '40001',
                 'could not serialize access due to concurrent update (injected: batch 1, attempt 1)',
                 'the first attempt fails with a serialization failure, saying it was injected');
select throws_ok($$select app.import_fault_point('00000000-0000-0000-0000-00000000000a', 1, 'inside', 2)$$, '40001', null,
                 'so does the second');
select lives_ok($$select app.import_fault_point('00000000-0000-0000-0000-00000000000a', 1, 'inside', 3)$$, 'the third passes');
select lives_ok($$select app.import_fault_point('00000000-0000-0000-0000-00000000000a', 1, 'before', 1)$$,
                'the point before the batch''s writes never fails');
select lives_ok($$select app.import_fault_point('00000000-0000-0000-0000-00000000000a', 0, 'inside', 1)$$, 'another batch passes');
select lives_ok($$select app.import_fault_point('00000000-0000-0000-0000-00000000000b', 1, 'inside', 1)$$, 'a job without faults passes');

select * from finish();
rollback;
