-- The delete guard of 20261128001101 found a pending attempt through resonate.workflow_attempts,
-- whose LIKE prefix match cannot use the primary key under the database's collation: one scan of
-- every promise per deleted row. Attempts are numbered consecutively (retry_workflow names the next
-- one `retry-<count + 1>`), so probing `<base>`, `<base>/retry-1`, ... by key finds them all.

create or replace function app.pending_attempt(base text)
returns text
language plpgsql
stable
set search_path = ''
as $$
declare
  n int := 0;
  attempt text := base;
  attempt_state text;
  found_pending text;
begin
  loop
    select p.state into attempt_state from resonate.promises p where p.id = attempt;
    exit when not found;
    if attempt_state = 'pending' then
      found_pending := attempt;
    end if;
    n := n + 1;
    attempt := base || '/retry-' || n;
  end loop;
  return found_pending;
end
$$;

revoke all on function app.pending_attempt(text) from public;

create or replace function app.refuse_deleting_running_row()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  noun text := tg_argv[0];
  base text := tg_argv[1] || '/' || old.id::text;
  running text := app.pending_attempt(base);
begin
  if running is not null then
    raise exception '% % is still running (workflow % is pending); cancel it first with select public.cancel_workflow(''%''), then delete it',
      noun, old.id, running, base
      using errcode = 'object_in_use';
  end if;
  return old;
end
$$;
