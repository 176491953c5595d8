-- The trigger path's SQL half, shared by every workload: an AFTER INSERT trigger function that posts
-- the Supabase Database Webhook body to an Edge Function with pg_net. Where to post and which bearer
-- secret to send come from Vault (`functions_url`, `webhook_secret`), so no secret lives in SQL and
-- the same migration works locally and on a hosted project.
create schema if not exists app;
revoke all on schema app from public;
-- Every function here revokes PUBLIC's EXECUTE itself (a per-schema default privilege cannot);
-- supabase/tests/resonate/privileges.test.sql fails on one that does not.
-- For public.workflow_runs, which service_role reads and which calls app.workflow_attempts and
-- app.like_literal (the only functions here service_role may execute).
grant usage on schema app to service_role;

-- Posts a JSON body to one Edge Function with the bearer secret, both looked up in Vault. Returns the
-- pg_net request id, or null when Vault is not configured yet (callers decide whether that is an error).
create or replace function app.post_to_function(function_name text, body jsonb, timeout_ms integer default 5000)
returns bigint
language plpgsql
security definer
set search_path = ''
as $$
declare
  base_url text;
  secret text;
begin
  select decrypted_secret into base_url from vault.decrypted_secrets where name = 'functions_url';
  select decrypted_secret into secret from vault.decrypted_secrets where name = 'webhook_secret';
  if base_url is null or secret is null then
    return null;
  end if;
  return net.http_post(
    url := base_url || '/' || function_name,
    body := body,
    headers := jsonb_build_object('Content-Type', 'application/json', 'Authorization', 'Bearer ' || secret),
    timeout_milliseconds := timeout_ms
  );
end
$$;

revoke all on function app.post_to_function(text, jsonb, integer) from public;

-- A body over DEFAULT_MAX_BODY_BYTES (functions/shared/http.ts) is answered 413 before the Edge Function
-- reads which row it names, so nothing would mark the row and it would stay 'queued' for good, re-posted
-- by the backstop every minute. Such a row is refused here instead, as the function refuses a bad row:
-- 'failed', with its largest field named. Every table this trigger serves has status, error and finished_at.
create or replace function app.post_webhook()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  max_body_bytes constant integer := 1048576;
  body jsonb := pg_catalog.jsonb_build_object(
    'type', tg_op,
    'table', tg_table_name,
    'schema', tg_table_schema,
    'record', pg_catalog.to_jsonb(new),
    'old_record', null);
  body_bytes integer := pg_catalog.octet_length(body::text);
  largest record;
begin
  if body_bytes > max_body_bytes then
    select f.key, pg_catalog.octet_length(f.value::text) as bytes into largest
      from pg_catalog.jsonb_each(body -> 'record') f order by 2 desc limit 1;
    execute pg_catalog.format(
      'update %I.%I set status = ''failed'', error = $1, finished_at = now() where id = $2 and status = ''queued''',
      tg_table_schema, tg_table_name)
    using pg_catalog.format(
      'the row is %s bytes as JSON, more than the %s bytes its Edge Function %s reads, so it cannot start; '
        '%s alone is %s bytes: shorten it and insert a new row',
      body_bytes, max_body_bytes, tg_argv[0], largest.key, largest.bytes), new.id;
    return null;
  end if;
  if app.post_to_function(tg_argv[0], body) is null then
    -- The row is kept (nothing is lost); once Vault is configured, retry its workflow or re-post it.
    raise warning 'app.post_webhook: Vault secrets functions_url / webhook_secret are not set; % row not delivered',
      tg_table_name;
  end if;
  return null;
end
$$;

revoke all on function app.post_webhook() from public;

-- ---------------------------------------------------------------------------------------------
-- The backstop for webhooks pg_net lost.
-- ---------------------------------------------------------------------------------------------

-- pg_net keeps its request queue in an UNLOGGED table: a database crash or an immediate restart drops
-- the requests still queued, and the row they were for would stay 'queued' with no workflow forever.
-- This backstop re-posts the webhook for such rows. It is safe to repeat: the Edge Function derives
-- the workflow id from the row id, so a delivery that did arrive after all starts nothing new, and a
-- row the function refuses turns 'failed' and is no longer picked. It also re-posts ingest triggers
-- (app.ingest_triggers, 20261121000500_ingest.sql) that no run shows arrived.
create or replace function app.repost_stuck_webhooks(older_than interval default interval '3 minutes')
returns integer
language plpgsql
security definer
set search_path = ''
as $$
declare
  stuck record;
  trig record;
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
  -- Ingest triggers (app.trigger_ingest) no run shows arrived, from the last day, at most 5 times each:
  -- re-posting one that did arrive after all joins the same day's run, or (a forced one whose run is not
  -- recorded yet) crawls once more.
  for trig in
    select t.id, t.force, t.trigger_name from app.ingest_triggers t
     where t.posted_at < now() - older_than and t.requested_at > now() - interval '1 day'
       and t.reposts < 5 and not app.ingest_trigger_arrived(t)
     order by t.requested_at
     limit 100
  loop
    if app.post_to_function('ingest', jsonb_build_object('force', trig.force, 'trigger', trig.trigger_name),
                            10000) is not null then
      update app.ingest_triggers set reposts = reposts + 1, posted_at = now() where id = trig.id;
      reposted := reposted + 1;
    end if;
  end loop;
  delete from app.ingest_triggers where requested_at < now() - interval '7 days';
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
