-- app.workflow_attempts: a workflow's root and its retries, matched exactly (an id holding LIKE's % or _
-- matches only itself), never a step (ids with ':').
begin;
select plan(5);

insert into resonate.promises (id, state, timeout_at, created_at) values
  ('t/1', 'pending', 9999999999999, 1),
  ('t/1/retry-1', 'pending', 9999999999999, 2),
  ('t/1/retry-x', 'pending', 9999999999999, 3),
  ('t/1:step', 'pending', 9999999999999, 4),
  ('t/10', 'pending', 9999999999999, 5),
  ('t/_', 'pending', 9999999999999, 6);

select is((select array_agg(id order by id)::text[] from app.workflow_attempts('t/1')),
          array['t/1', 't/1/retry-1'], 'the root and its numbered retries, nothing else');
select is_empty($$select from app.workflow_attempts('t/%')$$, '% is not a wildcard');
select is((select array_agg(id)::text[] from app.workflow_attempts('t/_')), array['t/_'], '_ matches only itself');
select is_empty($$select from app.workflow_attempts('t/1:step')$$, 'a step names no workflow');
select is_empty($$select from app.workflow_attempts('t/2')$$, 'an unknown id has no attempts');

select * from finish();
rollback;
