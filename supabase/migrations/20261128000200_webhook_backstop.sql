-- pg_net keeps its request queue in an UNLOGGED table: a database crash or an immediate restart drops
-- the requests still queued, and the row they were for would stay 'queued' with no workflow forever.
-- This backstop re-posts the webhook for such rows. It is safe to repeat: the Edge Function derives
-- the workflow id from the row id, so a delivery that did arrive after all starts nothing new, and a
-- row the function refuses turns 'failed' and is no longer picked.
create or replace function app.repost_stuck_webhooks(older_than interval default interval '3 minutes')
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  stuck record;
  reposted integer := 0;
begin
  -- One branch per table whose AFTER INSERT trigger posts a webhook: the function it posts to, and the
  -- workflow id that function starts for the row (`<kind>/<row id>`).
  for stuck in
    (select 'import-webhook' as function_name, 'import_jobs' as table_name, to_jsonb(j) as record
       from public.import_jobs j
      where j.status = 'queued' and j.created_at < now() - older_than
        and not exists (select from resonate.promises p where p.id = 'import/' || j.id)
      order by j.created_at
      limit 500)
    union all
    (select 'images-webhook', 'image_requests', to_jsonb(r)
       from public.image_requests r
      where r.status = 'queued' and r.created_at < now() - older_than
        and not exists (select from resonate.promises p where p.id = 'images/' || r.id)
      order by r.created_at
      limit 500)
  loop
    if app.post_to_function(stuck.function_name, jsonb_build_object(
         'type', 'INSERT', 'table', stuck.table_name, 'schema', 'public',
         'record', stuck.record, 'old_record', null)) is not null then
      reposted := reposted + 1;
    end if;
  end loop;
  if reposted > 0 then
    raise log 'app.repost_stuck_webhooks: re-posted % webhook(s)', reposted;
  end if;
  return reposted;
end
$$;

revoke all on function app.repost_stuck_webhooks(interval) from public;

do $$
begin
  if exists (select from pg_extension where extname = 'pg_cron') then
    perform cron.schedule('webhook-backstop', '* * * * *', 'select app.repost_stuck_webhooks()');
  end if;
end
$$;
