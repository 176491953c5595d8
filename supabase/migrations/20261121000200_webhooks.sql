-- The trigger path's SQL half, shared by every workload: an AFTER INSERT trigger function that posts
-- the Supabase Database Webhook body to an Edge Function with pg_net. Where to post and which bearer
-- secret to send come from Vault (`functions_url`, `webhook_secret`), so no secret lives in SQL and
-- the same migration works locally and on a hosted project.
create schema if not exists app;
revoke all on schema app from public;

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

create or replace function app.post_webhook()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  if app.post_to_function(tg_argv[0], jsonb_build_object(
       'type', tg_op,
       'table', tg_table_name,
       'schema', tg_table_schema,
       'record', to_jsonb(new),
       'old_record', null)) is null then
    -- The row is kept (nothing is lost); once Vault is configured, retry its workflow or re-post it.
    raise warning 'app.post_webhook: Vault secrets functions_url / webhook_secret are not set; % row not delivered',
      tg_table_name;
  end if;
  return null;
end
$$;

revoke all on function app.post_webhook() from public;
