-- The trigger path's SQL half, shared by every workload: an AFTER INSERT trigger function that posts
-- the Supabase Database Webhook body to an Edge Function with pg_net. Where to post and which bearer
-- secret to send come from Vault (`functions_url`, `webhook_secret`), so no secret lives in SQL and
-- the same migration works locally and on a hosted project.
create schema if not exists app;
revoke all on schema app from public;

create or replace function app.post_webhook()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  function_name text := tg_argv[0];
  base_url text;
  secret text;
begin
  select decrypted_secret into base_url from vault.decrypted_secrets where name = 'functions_url';
  select decrypted_secret into secret from vault.decrypted_secrets where name = 'webhook_secret';
  if base_url is null or secret is null then
    -- The row is kept (nothing is lost); app.redeliver_webhooks() posts it once Vault is configured.
    raise warning 'app.post_webhook: Vault secrets functions_url / webhook_secret are not set; % row not delivered',
      tg_table_name;
    return null;
  end if;
  perform net.http_post(
    url := base_url || '/' || function_name,
    body := jsonb_build_object(
      'type', tg_op,
      'table', tg_table_name,
      'schema', tg_table_schema,
      'record', to_jsonb(new),
      'old_record', null
    ),
    headers := jsonb_build_object('Content-Type', 'application/json', 'Authorization', 'Bearer ' || secret),
    timeout_milliseconds := 5000
  );
  return null;
end
$$;

revoke all on function app.post_webhook() from public;
