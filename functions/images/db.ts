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
export async function startRequest(db: pg.Pool, id: string): Promise<string[]> {
  const { rows } = await db.query<{ styles: string[] }>(
    `with req as (
       update public.image_requests
          set status = 'running', started_at = coalesce(started_at, now()), images_total = cardinality(styles),
              images_failed = 0, error = null, finished_at = null
        where id = $1
          and (status in ('queued', 'running') or (status in ('failed', 'partially_succeeded') and started_at is not null))
        returning id, styles
     ), reopened as (
       update public.generated_images g
          set status = 'pending', error = null, finished_at = null, updated_at = now()
         from req
        where g.request_id = req.id and g.status = 'failed'
     ), ins as (
       insert into public.generated_images (request_id, style)
       select id, unnest(styles) from req
       on conflict (request_id, style) do nothing
     )
     select styles from req`,
    [id],
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
  | { kind: "call"; attempt: number; request: StoredRequest };

/**
 * Counts a provider call before it is made and reads what the call needs, in one round trip. A style
 * that already succeeded (its step finished but the workflow had not recorded that before a crash)
 * is not called again: its stored result is returned.
 */
export async function beginAttempt(db: pg.Pool, requestId: string, style: string): Promise<Attempt> {
  const { rows } = await db.query<{
    prompt: unknown;
    styles: unknown;
    options: unknown;
    attempts: number | null;
    status: string | null;
    path: string;
    url: string;
    bytes: number;
    sha256: string;
  }>(
    `with bumped as (
       insert into public.generated_images (request_id, style, status, attempts, started_at)
       -- Only for a running request: a canceled request's styles stay as the cancel left them, even
       -- when a branch that was waiting to retry wakes up afterwards (no row here, so no update below).
       select id, $2, 'running', 1, now() from public.image_requests where id = $1 and status = 'running'
       on conflict (request_id, style) do update
          set status = 'running', attempts = generated_images.attempts + 1,
              started_at = coalesce(generated_images.started_at, now()), updated_at = now()
        where generated_images.status <> 'succeeded'
       returning attempts
     )
     select r.prompt, r.styles, r.options, b.attempts, g.status, g.path, g.url, g.bytes, g.sha256
       from public.image_requests r
       left join bumped b on true
       left join public.generated_images g on g.request_id = r.id and g.style = $2
      where r.id = $1`,
    [requestId, style],
  );
  const row = rows[0];
  if (!row) throw new RequestUnusableError(`image request ${requestId} does not exist`);
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
  img: ImageRecord,
): Promise<void> {
  await db.query(
    `update public.generated_images
        set status = 'succeeded', path = $3, url = $4, width = $5, height = $6, bytes = $7, sha256 = $8,
            provider = $9, error = null, finished_at = now(), updated_at = now(),
            duration_ms = (extract(epoch from (now() - started_at)) * 1000)::int
      where request_id = $1 and style = $2 and status = 'running'`,
    [requestId, style, img.path, img.url, img.width, img.height, img.bytes, img.sha256, img.provider],
  );
  await settleIfComplete(db, requestId);
}

/** Whether the style is still being generated: a cancel since the provider call began ends it. */
export async function styleStillRunning(db: pg.Pool, requestId: string, style: string): Promise<boolean> {
  const { rowCount } = await db.query(
    "select from public.generated_images where request_id = $1 and style = $2 and status = 'running'",
    [requestId, style],
  );
  return (rowCount ?? 0) > 0;
}

/**
 * Keeps the latest error visible while the branch retries, on the style and on the request (so a
 * request with a retrying style does not look healthy); settling the request replaces the latter.
 */
export async function recordAttemptError(
  db: pg.Pool,
  requestId: string,
  style: string,
  message: string,
): Promise<void> {
  await db.query(
    `with img as (
       update public.generated_images set error = $3, updated_at = now()
        where request_id = $1 and style = $2 and status = 'running'
     )
     update public.image_requests set error = $2 || ': ' || $3
      where id = $1 and status = 'running'`,
    [requestId, style, message],
  );
}

export async function markStyleFailed(
  db: pg.Pool,
  requestId: string,
  style: string,
  message: string,
): Promise<void> {
  await db.query(
    `update public.generated_images
        set status = 'failed', error = $3 || ' (after ' || attempts || ' provider call' ||
              case when attempts = 1 then ')' else 's)' end,
            finished_at = now(), updated_at = now()
      where request_id = $1 and style = $2 and status <> 'succeeded'`,
    [requestId, style, message],
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
