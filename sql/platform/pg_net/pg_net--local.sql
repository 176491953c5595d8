-- The pg_net interface: functions enqueue a request row and return its id; nothing leaves until the
-- transaction commits, because the dispatcher only sees committed rows (and NOTIFY is delivered at
-- commit). A rolled-back transaction therefore sends nothing, as with the real extension.
--
-- Like pg_net, the queue is UNLOGGED: a crash or an immediate restart empties it, and requests still
-- queued are gone (app.repost_stuck_webhooks is the backstop for that). The functions are security
-- definer, as pg_net's are, so callers need EXECUTE only, not rights on the tables.

create unlogged table net.http_request_queue (
  id bigserial primary key,
  method text not null check (method in ('GET', 'POST', 'DELETE')),
  url text not null,
  headers jsonb not null default '{}',
  body bytea,
  timeout_milliseconds integer not null
);

create unlogged table net._http_response (
  id bigint,
  status_code integer,
  content_type text,
  headers jsonb,
  content text,
  timed_out boolean,
  error_msg text,
  created timestamptz not null default now()
);
create index _http_response_created_idx on net._http_response (created);

create function net._urlencode_params(url text, params jsonb) returns text
language sql immutable as $$
  select case
    when params is null or params = '{}'::jsonb then url
    else url || case when position('?' in url) > 0 then '&' else '?' end || (
      select string_agg(
        replace(replace(replace(key, '%', '%25'), '&', '%26'), '=', '%3D') || '=' ||
        replace(replace(replace(replace(value, '%', '%25'), '&', '%26'), '=', '%3D'), ' ', '%20'), '&')
      from jsonb_each_text(params)
    )
  end;
$$;

create function net.http_get(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds integer default 5000
) returns bigint language plpgsql volatile security definer set search_path = net, pg_catalog as $$
declare
  request_id bigint;
begin
  insert into net.http_request_queue (method, url, headers, timeout_milliseconds)
  values ('GET', net._urlencode_params(url, params), headers, timeout_milliseconds)
  returning id into request_id;
  perform pg_notify('net_http_request_queue', request_id::text);
  return request_id;
end
$$;

create function net.http_post(
  url text,
  body jsonb default '{}'::jsonb,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds integer default 5000
) returns bigint language plpgsql volatile security definer set search_path = net, pg_catalog as $$
declare
  request_id bigint;
begin
  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values ('POST', net._urlencode_params(url, params), headers,
          convert_to(coalesce(body, '{}'::jsonb)::text, 'UTF8'), timeout_milliseconds)
  returning id into request_id;
  perform pg_notify('net_http_request_queue', request_id::text);
  return request_id;
end
$$;

create function net.http_delete(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds integer default 5000
) returns bigint language plpgsql volatile security definer set search_path = net, pg_catalog as $$
declare
  request_id bigint;
begin
  insert into net.http_request_queue (method, url, headers, timeout_milliseconds)
  values ('DELETE', net._urlencode_params(url, params), headers, timeout_milliseconds)
  returning id into request_id;
  perform pg_notify('net_http_request_queue', request_id::text);
  return request_id;
end
$$;

-- Like the platform, only privileged roles may send requests from SQL.
revoke all on schema net from public;
revoke all on all functions in schema net from public;
grant usage on schema net to service_role;
grant execute on all functions in schema net to service_role;
