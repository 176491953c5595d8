-- The durable store at a glance: pending promises, tasks by state, and undelivered messages.
select 'promises pending' as what, count(*)::text as value from resonate.promises where state = 'pending'
union all
select 'tasks ' || state, count(*)::text from resonate.tasks group by state
union all
select 'outbox messages waiting', count(*)::text from resonate.outbox
union all
select 'oldest outbox message', coalesce(min(created_at)::text, '-') from resonate.outbox;
