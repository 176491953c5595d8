-- resonate.resonate_batch (our adapter's entry point): units of requests, each request answered as
-- resonate_rpc answers it alone, in order; a failing request does not undo the others; a local step's
-- fenced create and settle sent together are written as one settled promise, answered as the two
-- requests would be, and fall back to the one-by-one path when the fence fails; a run of steps in
-- compact form (steps.fused) is written up to the first step the fast path would not take, answering
-- the times they were written, and stops its unit there.
begin;
select plan(19);

do $$ begin perform app.rpc_call('promise.create', '{"id": "t/x", "timeoutAt": 9999999999999, "param": {"data": "p"}}'); end $$;

create temporary table answers on commit drop as
  select resonate.resonate_batch($$[
    [{"kind": "promise.get", "head": {"corrId": "c1", "version": "v"}, "data": {"id": "t/x"}},
     {"kind": "promise.create", "head": {"corrId": "c2"}, "data": {"id": "t/a", "timeoutAt": 9999999999999}},
     {"kind": "promise.settle", "head": {"corrId": "c3"}, "data": "not an object"},
     {"kind": "promise.create", "head": {"corrId": "c4"}, "data": {"id": "t/b", "timeoutAt": 9999999999999}}],
    [{"kind": "promise.get", "head": {"corrId": "c5"}, "data": {"id": "t/none"}}],
    []
  ]$$)::jsonb as a;

select is((select jsonb_array_length(a) from answers), 3, 'one answer array per unit');
select is((select a -> 0 -> 0 from answers),
          resonate.resonate_rpc('{"kind": "promise.get", "head": {"corrId": "c1", "version": "v"}, "data": {"id": "t/x"}}'),
          'a request is answered exactly as resonate_rpc answers it');
select is((select array_agg(x -> 'head' ->> 'status' order by n) from answers, jsonb_array_elements(a -> 0) with ordinality e(x, n)),
          array['200', '200', '400', '200'], 'each request of a unit gets its own status, in order');
select is((select array_agg(x -> 'head' ->> 'corrId' order by n) from answers, jsonb_array_elements(a -> 0) with ordinality e(x, n)),
          array['c1', 'c2', 'c3', 'c4'], 'and its own corrId');
select is((select array_agg(id order by id)::text[] from resonate.promises where id in ('t/a', 't/b')), array['t/a', 't/b'],
          'a failing request does not undo the requests around it');
select is((select a -> 1 -> 0 -> 'head' ->> 'status' from answers), '404', 'units are answered independently');
select is((select a -> 2 from answers), '[]'::jsonb, 'an empty unit has an empty answer');

-- A local step's pair.
do $$
begin
  perform app.rpc_call('promise.create', '{"id": "t/w", "timeoutAt": 9999999999999, "tags": {"resonate:target": "poll://any@g"}}');
  perform app.rpc_call('task.acquire', '{"id": "t/w", "version": 0, "pid": "w1", "ttl": 60000}');
end
$$;
create temporary table pair on commit drop as
  select resonate.resonate_batch($$[[
    {"kind": "task.fence", "head": {"corrId": "f1"}, "data": {"id": "t/w", "version": 1, "action": {"kind": "promise.create",
      "head": {"corrId": "f1a"}, "data": {"id": "t/w:s", "timeoutAt": 9999999999999, "param": {"data": "in"}, "tags": {}}}}},
    {"kind": "task.fence", "head": {"corrId": "f2"}, "data": {"id": "t/w", "version": 1, "action": {"kind": "promise.settle",
      "head": {"corrId": "f2a"}, "data": {"id": "t/w:s", "state": "resolved", "value": {"data": "out"}}}}}
  ]]$$)::jsonb as a;
select is((select array_agg(x #>> '{data,action,data,promise,state}' order by n) from pair, jsonb_array_elements(a -> 0) with ordinality e(x, n)),
          array['pending', 'resolved'], 'the pair is answered as a create then a settle');
select is((select state || ' ' || (param ->> 'data') || ' ' || (value ->> 'data') from resonate.promises where id = 't/w:s'),
          'resolved in out', 'and the step is stored settled, with its param and value');
select is((select array_agg(x #>> '{data,action,head,corrId}' order by n) from pair, jsonb_array_elements(a -> 0) with ordinality e(x, n)),
          array['f1a', 'f2a'], 'each inner answer carries its own corrId');

select is((select array_agg(x -> 'head' ->> 'status' order by n)
             from jsonb_array_elements(resonate.resonate_batch($$[[
               {"kind": "task.fence", "data": {"id": "t/w", "version": 0, "action": {"kind": "promise.create",
                 "data": {"id": "t/w:t", "timeoutAt": 9999999999999, "param": {}, "tags": {}}}}},
               {"kind": "task.fence", "data": {"id": "t/w", "version": 0, "action": {"kind": "promise.settle",
                 "data": {"id": "t/w:t", "state": "resolved", "value": {}}}}}
             ]]$$)::jsonb -> 0) with ordinality e(x, n)),
          array['409', '409'], 'a pair at a stale version is refused request by request');
select is_empty($$select from resonate.promises where id = 't/w:t'$$, 'and writes nothing');

-- A run of steps in compact form: [id, timeoutAt, param, tags, state, value] per step.
create temporary table run on commit drop as
  select resonate.resonate_batch($$[[
    {"kind": "steps.fused", "id": "t/w", "version": 1, "steps": [
      ["t/w:c0", 9999999999999, {"data": "in0", "gone": null}, {"resonate:scope": "local"}, "resolved", {"data": "out0"}],
      ["t/w:c1", 9999999999999, {"data": "in1"}, {}, "rejected", {"data": "out1"}]]},
    {"kind": "promise.get", "head": {"corrId": "g1"}, "data": {"id": "t/w:c0"}}
  ]]$$)::jsonb as a;
select is((select jsonb_array_length(a -> 0 -> 0) from run), 2, 'a run in compact form answers a time per step written');
select is((select array_agg(state || ' ' || (param ->> 'data') || ' ' || (value ->> 'data') || ' ' || created_at || ' ' || settled_at order by id)
             from resonate.promises where id in ('t/w:c0', 't/w:c1')),
          (select array['resolved in0 out0 ' || (a #>> '{0,0,0}') || ' ' || (a #>> '{0,0,0}'),
                        'rejected in1 out1 ' || (a #>> '{0,0,1}') || ' ' || (a #>> '{0,0,1}')] from run),
          'each step is stored settled, with its param and value, created and settled at the time answered');
select is((select param from resonate.promises where id = 't/w:c0'), '{"data": "in0"}'::jsonb, 'without JSON nulls');
select is((select a #>> '{0,1,head,status}' from run), '200', 'and the unit goes on after the run');

create temporary table stopped on commit drop as
  select resonate.resonate_batch($$[[
    {"kind": "steps.fused", "id": "t/w", "version": 1, "steps": [
      ["t/w:d0", 9999999999999, {}, {}, "resolved", {}],
      ["t/w:c0", 9999999999999, {}, {}, "resolved", {}],
      ["t/w:d2", 9999999999999, {}, {}, "resolved", {}]]},
    {"kind": "promise.get", "head": {"corrId": "g2"}, "data": {"id": "t/w:d0"}}
  ]]$$)::jsonb as a;
select is((select jsonb_array_length(a -> 0 -> 0) || ' ' || (a -> 0 -> 1)::text from stopped), '1 null',
          'a run stops at a step that exists, and so does its unit');
select is((select array_agg(id order by id)::text[] from resonate.promises where id like 't/w:d%'), array['t/w:d0'],
          'nothing after the stop is written');

select throws_ok($$select resonate.resonate_batch('{"kind": "promise.get"}')$$,
                 'resonate_batch takes an array of arrays of requests', 'a batch that is not an array of units is refused');

select * from finish();
rollback;
