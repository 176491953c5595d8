-- resonate.gc(horizon): deletes whole workflow trees (a root and every `root:` descendant) once every
-- member settled before the horizon, never part of a tree, and never a tree with a member still pending
-- or settled recently; ids that merely share a prefix are other trees. Outbox rows older than the
-- horizon go too. Returns the number of promises deleted.
begin;
select plan(10);

create temporary table ago on commit drop as
  select resonate._clock_ms() - 10 * 86400000 as old, resonate._clock_ms() - 3600000 as recent;

insert into resonate.promises (id, state, timeout_at, created_at, settled_at)
select id, case when settled is null then 'pending' else 'resolved' end, 9999999999999, 1, settled
  from ago, lateral (values
    ('w/1', old), ('w/1:a', old), ('w/1:a:b', old),    -- all old: deleted
    ('w/10', recent),                                   -- shares the prefix "w/1", another tree
    ('w/1/retry-1', null),                              -- a retry is its own root
    ('w/2', old), ('w/2:x', null),                      -- a pending step keeps the tree
    ('w/3', old), ('w/3:x', recent),                    -- so does a recently settled one
    ('w/4', null)) v(id, settled);
insert into resonate.tasks (id, state) values ('w/1', 'fulfilled');
insert into resonate.outbox (kind, address, task_id, version, created_at) values
  ('execute', 'poll://uni@g/dead', 'w/4', 0, now() - interval '8 days');
insert into resonate.outbox (kind, address, promise_id, promise) values
  ('unblock', 'poll://uni@g/live', 'w/4', '{}');

select is(resonate.gc(interval '30 days'), 0, 'nothing settled before a 30-day horizon');
select is(resonate.gc(interval '7 days'), 3, 'with 7 days, the one old tree: three promises');
select is_empty($$select from resonate.promises where id in ('w/1', 'w/1:a', 'w/1:a:b')$$, 'the whole tree is gone');
select is_empty($$select from resonate.tasks where id = 'w/1'$$, 'with its task');
select is((select array_agg(id order by id)::text[] from resonate.promises where id like 'w/1%'),
          array['w/1/retry-1', 'w/10'], 'ids sharing its prefix are untouched');
select is((select count(*)::int from resonate.promises where id like 'w/2%'), 2, 'a tree with a pending step is kept whole');
select is((select count(*)::int from resonate.promises where id like 'w/3%'), 2,
          'a tree with a step settled within the horizon is kept whole');
select ok(exists (select from resonate.promises where id = 'w/4'), 'a pending root is kept');
select is((select array_agg(address) from resonate.outbox), array['poll://uni@g/live'],
          'outbox rows older than the horizon are dropped, newer ones kept');
select is(resonate.gc(interval '7 days'), 0, 'a second pass finds nothing more');

select * from finish();
rollback;
