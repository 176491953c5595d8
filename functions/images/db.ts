// The workload's SQL. Every write is keyed by (request_id, style) or the request id and safe to repeat,
// so a step re-executed after a crash changes nothing its first execution already wrote.
import type pg from "pg";
import { parseSimulationOptions, type SimulationOptions } from "./validate.ts";

export type RequestStatus = "queued" | "running" | "succeeded" | "partially_succeeded" | "failed";

export interface StoredRequest {
  id: string;
  prompt: string;
  styles: string[];
  simulation: SimulationOptions;
}

/** A request row that is gone or malformed: retrying cannot help. */
export class RequestUnusableError extends Error {
  override name = "RequestUnusableError";
}

function parseRequest(
  id: string,
  row: { prompt: unknown; styles: unknown; options: unknown },
): StoredRequest {
  if (typeof row.prompt !== "string" || !Array.isArray(row.styles)) {
    throw new RequestUnusableError(`image request ${id} has no prompt or styles`);
  }
  const sim = parseSimulationOptions(row.options);
  if (!sim.ok) throw new RequestUnusableError(`image request ${id}: ${sim.error}`);
  return { id, prompt: row.prompt, styles: row.styles as string[], simulation: sim.value };
}

/**
 * Marks the request running and creates one pending row per style; returns the styles to fan out to.
 * A request that ran and ended failed or partially_succeeded runs again only under retry_workflow
 * (the webhook starts `images/<id>` once): its failed styles go back to pending with their attempt
 * counts kept, and its generated styles are returned too but are not generated again (beginAttempt).
 * One refused before it started (bad input, so no started_at) never runs.
 */
export async function startRequest(db: pg.Pool, id: string, run: string): Promise<string[]> {
  const { rows } = await db.query<{ styles: string[] }>(
    `with req as (
       update public.image_requests
          set status = 'running', started_at = coalesce(started_at, now()), images_total = cardinality(styles),
              images_failed = 0, error = null, finished_at = null
        where id = $1
          and (status in ('queued', 'running') or (status in ('failed', 'partially_succeeded') and started_at is not null))
        returning id, styles
     ), reopened as (
       -- This run owns every style not yet generated from now on; an earlier run's late writes no
       -- longer count (see beginAttempt).
       update public.generated_images g
          set status = case when g.status = 'failed' then 'pending' else g.status end,
              error = case when g.status = 'failed' then null else g.error end,
              finished_at = null, updated_at = now(), owner = $2
         from req
        where g.request_id = req.id and g.status <> 'succeeded'
     ), ins as (
       insert into public.generated_images (request_id, style, owner)
       select id, unnest(styles), $2 from req
       on conflict (request_id, style) do nothing
     )
     select styles from req`,
    [id, run],
  );
  if (!rows[0]) {
    const { rows: existing } = await db.query<{ status: string; error: string | null }>(
      "select status, error from public.image_requests where id = $1",
      [id],
    );
    const row = existing[0];
    if (!row) throw new RequestUnusableError(`image request ${id} does not exist`);
    if (row.status === "failed") {
      throw new RequestUnusableError(
        `image request ${id} was refused before it started (${row.error ?? "no error recorded"}); insert a new request`,
      );
    }
    throw new RequestUnusableError(`image request ${id} is ${row.status}; there is nothing to run`);
  }
  return rows[0].styles;
}

export interface StoredImage {
  style: string;
  path: string;
  url: string;
  bytes: number;
  sha256: string;
}

export type Attempt =
  | { kind: "done"; image: StoredImage }
  | { kind: "call"; attempt: number; request: StoredRequest }
  /** An earlier run's provider call for the style is still out; call again once it has ended. */
  | { kind: "busy"; caller: string };

/** Longer than any provider call may take (OPENAI_TIMEOUT_MS is at most 10 minutes): a call older
 *  than this died with its worker and no longer holds the style. */
export const CALL_LEASE = "11 minutes";

/**
 * Counts a provider call before it is made and reads what the call needs, in one round trip. A style
 * that already succeeded (its step finished but the workflow had not recorded that before a crash)
 * is not called again: its stored result is returned.
 */
export async function beginAttempt(
  db: pg.Pool,
  requestId: string,
  style: string,
  run: string,
): Promise<Attempt> {
  const { rows } = await db.query<{
    prompt: unknown;
    styles: unknown;
    options: unknown;
    attempts: number | null;
    status: string | null;
    owner: string | null;
    caller: string | null;
    path: string;
    url: string;
    bytes: number;
    sha256: string;
  }>(
    `with bumped as (
       insert into public.generated_images (request_id, style, status, attempts, started_at, owner, caller, calling_since)
       -- Only for a running request: a canceled request's styles stay as the cancel left them, even
       -- when a branch that was waiting to retry wakes up afterwards (no row here, so no update below).
       select id, $2, 'running', 1, now(), $3, $3, now() from public.image_requests where id = $1 and status = 'running'
       on conflict (request_id, style) do update
          set status = 'running', attempts = generated_images.attempts + 1,
              started_at = coalesce(generated_images.started_at, now()), updated_at = now(),
              owner = $3, caller = $3, calling_since = now()
        where generated_images.status <> 'succeeded'
          -- Only this run's style (null: a row from before styles had owners).
          and (generated_images.owner is null or generated_images.owner = $3)
          -- And no other run's provider call for it is still out.
          and (generated_images.caller is null or generated_images.caller = $3
               or generated_images.calling_since < now() - $4::interval)
       returning attempts
     )
     select r.prompt, r.styles, r.options, b.attempts, g.status, g.owner, g.caller,
            g.path, g.url, g.bytes, g.sha256
       from public.image_requests r
       left join bumped b on true
       left join public.generated_images g on g.request_id = r.id and g.style = $2
      where r.id = $1`,
    [requestId, style, run, CALL_LEASE],
  );
  const row = rows[0];
  if (!row) throw new RequestUnusableError(`image request ${requestId} does not exist`);
  if (row.attempts === null && row.status !== "succeeded" && row.owner !== null && row.owner !== run) {
    throw new RequestUnusableError(
      `style ${style} of image request ${requestId} now belongs to ${row.owner}; ${run} does not generate it`,
    );
  }
  if (row.attempts === null && row.status !== "succeeded" && row.caller !== null && row.caller !== run) {
    return { kind: "busy", caller: row.caller };
  }
  if (row.attempts === null && row.status !== "succeeded") {
    throw new RequestUnusableError(
      `image request ${requestId} is no longer running; style ${style} was not generated`,
    );
  }
  if (row.attempts === null) {
    // Nothing was bumped, so the row (as of before this statement) is the succeeded one. A crash may
    // have come between its write and the settle check; repeat the check.
    await settleIfComplete(db, requestId);
    return {
      kind: "done",
      image: { style, path: row.path, url: row.url, bytes: row.bytes, sha256: row.sha256 },
    };
  }
  return { kind: "call", attempt: row.attempts, request: parseRequest(requestId, row) };
}

export interface ImageRecord {
  path: string;
  url: string;
  width: number;
  height: number;
  bytes: number;
  sha256: string;
  provider: string;
}

/**
 * Settles the request if no style is pending or running. Called after each style's final write has
 * committed, as a statement of its own: of two styles finishing at the same moment, the one whose check
 * runs later sees both writes, so the request is always settled, by one or both (the second finds it
 * no longer 'running' and changes nothing). No lock, so finishing styles never queue behind each other.
 */
async function settleIfComplete(db: pg.Pool, requestId: string): Promise<void> {
  await db.query(SETTLE_WHEN_COMPLETE, [requestId]);
}

const SETTLE_WHEN_COMPLETE = `
  with counts as (
    select count(*) filter (where status = 'succeeded')::int as succeeded,
           count(*) filter (where status = 'failed')::int as failed,
           count(*) filter (where status in ('pending', 'running'))::int as open,
           string_agg(style || ': ' || coalesce(error, 'unknown error'), '; ' order by style)
             filter (where status = 'failed') as errors
      from public.generated_images where request_id = $1
  )
  update public.image_requests r
     set status = case when c.failed = 0 then 'succeeded' when c.succeeded = 0 then 'failed'
                       else 'partially_succeeded' end,
         images_succeeded = c.succeeded, images_failed = c.failed,
         error = case when c.failed = 0 then null
                      else c.failed || ' of ' || (c.succeeded + c.failed) || ' styles failed: ' || c.errors end,
         finished_at = now()
    from counts c
   where r.id = $1 and r.status = 'running' and c.open = 0`;

export async function recordSuccess(
  db: pg.Pool,
  requestId: string,
  style: string,
  run: string,
  img: ImageRecord,
): Promise<void> {
  await db.query(
    `update public.generated_images
        set status = 'succeeded', path = $3, url = $4, width = $5, height = $6, bytes = $7, sha256 = $8,
            provider = $9, error = null, finished_at = now(), updated_at = now(),
            duration_ms = (extract(epoch from (now() - started_at)) * 1000)::int
      where request_id = $1 and style = $2 and status = 'running' and owner is not distinct from $10`,
    [requestId, style, img.path, img.url, img.width, img.height, img.bytes, img.sha256, img.provider, run],
  );
  await settleIfComplete(db, requestId);
}

/** Whether this run still generates the style: a cancel, or a retry taking it over, ends that. */
export async function styleStillRunning(
  db: pg.Pool,
  requestId: string,
  style: string,
  run: string,
): Promise<boolean> {
  const { rowCount } = await db.query(
    `select from public.generated_images
      where request_id = $1 and style = $2 and status = 'running' and owner is not distinct from $3`,
    [requestId, style, run],
  );
  return (rowCount ?? 0) > 0;
}

/** This run's provider call for the style has returned (or failed): a newer owner may call now. */
export async function endCall(db: pg.Pool, requestId: string, style: string, run: string): Promise<void> {
  await db.query(
    `update public.generated_images set caller = null, calling_since = null
      where request_id = $1 and style = $2 and caller = $3`,
    [requestId, style, run],
  );
}

/**
 * Keeps the latest error visible while the branch retries, on the style and on the request (so a
 * request with a retrying style does not look healthy); settling the request replaces the latter.
 */
export async function recordAttemptError(
  db: pg.Pool,
  requestId: string,
  style: string,
  run: string,
  message: string,
): Promise<void> {
  await db.query(
    `with img as (
       update public.generated_images set error = $3, updated_at = now()
        where request_id = $1 and style = $2 and status = 'running' and owner is not distinct from $4
        returning 1
     )
     update public.image_requests set error = $2 || ': ' || $3
      where id = $1 and status = 'running' and exists (select from img)`,
    [requestId, style, message, run],
  );
}

export async function markStyleFailed(
  db: pg.Pool,
  requestId: string,
  style: string,
  run: string,
  message: string,
): Promise<void> {
  await db.query(
    `update public.generated_images
        set status = 'failed', error = $3 || ' (after ' || attempts || ' provider call' ||
              case when attempts = 1 then ')' else 's)' end,
            finished_at = now(), updated_at = now()
      where request_id = $1 and style = $2 and status <> 'succeeded' and (owner is null or owner = $4)`,
    [requestId, style, message, run],
  );
  await settleIfComplete(db, requestId);
}

export interface RequestOutcome {
  status: RequestStatus;
  succeeded: number;
  failed: number;
}

/** The request's final status from its styles' outcomes; the same rule SETTLE_WHEN_COMPLETE applies. */
export function outcomeOf(succeeded: number, failed: number): RequestOutcome {
  const status = failed === 0 ? "succeeded" : succeeded === 0 ? "failed" : "partially_succeeded";
  return { status, succeeded, failed };
}
