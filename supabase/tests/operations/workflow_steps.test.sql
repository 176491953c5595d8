-- public.workflow_steps(id): the steps (every `<id>:` descendant, nothing of another workflow even when
-- the id holds LIKE's _) in creation order, with the function decoded from the SDK's param, remote or
-- local by the target tag, a remote step's attempts from its task, and the settled time and duration.
begin;
select plan(7);

insert into resonate.promises (id, state, param, tags, timeout_at, created_at, settled_at) values
  ('k/a_b', 'pending', '{}', '{}', 9999999999999, 1000, null),
  ('k/a_b:stage', 'resolved', jsonb_build_object('data', encode(convert_to('{"func": "stage", "args": []}', 'UTF8'), 'base64')),
     '{}', 9999999999999, 2000, 2500),
  ('k/a_b:batch', 'pending', jsonb_build_object('data', encode(convert_to('{"func": "batch"}', 'UTF8'), 'base64')),
     '{"resonate:target": "poll://any@g"}', 9999999999999, 3000, null),
  ('k/a_b:odd', 'resolved', '{"data": "not base64 json!"}', '{}', 9999999999999, 4000, 4000),
  ('k/axb:other', 'pending', '{}', '{}', 9999999999999, 1500, null),
  ('k/a_b/retry-1:x', 'pending', '{}', '{}', 9999999999999, 1500, null);
insert into resonate.tasks (id, state, version) values ('k/a_b:batch', 'acquired', 2);

select is((select array_agg(step_id) from public.workflow_steps('k/a_b')), array['k/a_b:stage', 'k/a_b:batch', 'k/a_b:odd'],
          'its steps, in creation order, and no other workflow''s');
select is((select array_agg(coalesce(func, '-')) from public.workflow_steps('k/a_b')), array['stage', 'batch', '-'],
          'the function each step runs, null when its param is not the SDK''s');
select is((select array_agg(kind) from public.workflow_steps('k/a_b')), array['local', 'remote', 'local'],
          'remote when it has a target');
select is((select attempts from public.workflow_steps('k/a_b') where step_id = 'k/a_b:batch'), 2, 'a remote step''s attempts');
select is((select duration_ms from public.workflow_steps('k/a_b') where step_id = 'k/a_b:stage'), 500::bigint,
          'a settled step''s duration');
select is((select settled_at from public.workflow_steps('k/a_b') where step_id = 'k/a_b:stage'), to_timestamp(2.5),
          'and when it settled');
select is_empty($$select from public.workflow_steps('k/none')$$, 'an unknown workflow has no steps');

select * from finish();
rollback;
