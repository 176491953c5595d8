// The `contacts` target: email required, valid and unique (the upsert key, stored lower-cased); name
// required; company, country and phone optional.
import type pg from "pg";
import { copyFrom, copyText } from "../../shared/copy-from.ts";
import type { Duplicate, FieldError, PreparedRows, Target, UpsertResult, Validated } from "./target.ts";

export interface Contact {
  email: string;
  name: string;
  company: string | null;
  country: string | null;
  phone: string | null;
}

const EMAIL = /^[^\s@"<>,;]+@[^\s@"<>,;]+\.[^\s@"<>,;]+$/;
const PHONE = /^\+?[0-9 ().\-/]+$/;
const LIMITS = { email: 254, name: 200, company: 200, country: 100, phone: 32 } as const;

type TextResult = { value: string | null } | { error: string };

function text(raw: Record<string, unknown>, field: keyof typeof LIMITS): TextResult {
  const v = raw[field];
  if (v === undefined || v === null) return { value: null };
  if (typeof v !== "string" && typeof v !== "number")
    return { error: `${field} must be text, got ${typeof v}` };
  const s = String(v).trim();
  if (s === "") return { value: null };
  if (s.length > LIMITS[field])
    return { error: `${field} is ${s.length} characters; the limit is ${LIMITS[field]}` };
  return { value: s };
}

export function validateContact(raw: unknown): Validated<Contact> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    return { ok: false, errors: [{ field: null, message: "record must be an object with email and name" }] };
  }
  const r = raw as Record<string, unknown>;
  const errors: FieldError[] = [];
  const out: { [K in keyof Contact]?: string | null } = {};
  for (const field of ["email", "name", "company", "country", "phone"] as const) {
    const t = text(r, field);
    if ("error" in t) errors.push({ field, message: t.error });
    else out[field] = t.value;
  }
  if (out.email === null) errors.push({ field: "email", message: "email is required" });
  else if (out.email !== undefined && !EMAIL.test(out.email)) {
    errors.push({ field: "email", message: `email ${JSON.stringify(out.email)} is not a valid address` });
  }
  if (out.name === null) errors.push({ field: "name", message: "name is required" });
  if (out.phone && (!PHONE.test(out.phone) || (out.phone.match(/[0-9]/g)?.length ?? 0) < 5)) {
    errors.push({
      field: "phone",
      message: `phone ${JSON.stringify(out.phone)} must be digits with optional + ( ) - . / and spaces`,
    });
  }
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    row: {
      email: out.email!.toLowerCase(),
      name: out.name!,
      company: out.company ?? null,
      country: out.country ?? null,
      phone: out.phone ?? null,
    },
  };
}

// Each batch's rows arrive by COPY in a temporary table of the session, emptied at every commit (and
// gone with a rollback, which is why every write asks for it again; that costs a catalog lookup).
const COPY_IN = `
create temp table if not exists import_contacts
  (email text, name text, company text, country text, phone text, line_no int) on commit delete rows;
copy pg_temp.import_contacts (email, name, company, country, phone, line_no) from stdin`;

// The WHERE clause makes a later line of the same job never overwrite an earlier one: such a row is a
// duplicate inside the file and is reported, while a row from another (older) job is updated. The final
// SELECT reads the pre-statement snapshot, so for a skipped row (and only those are looked up) it finds
// the line that wrote the email first.
const UPSERT = `
with applied as (
  insert into public.contacts as c (email, name, company, country, phone, import_job_id, import_line_no)
  select email, name, company, country, phone, $1::uuid, line_no from pg_temp.import_contacts
  on conflict (email) do update
    set name = excluded.name, company = excluded.company, country = excluded.country, phone = excluded.phone,
        import_job_id = excluded.import_job_id, import_line_no = excluded.import_line_no, updated_at = now()
    where c.import_job_id is distinct from excluded.import_job_id
  returning c.import_line_no as line_no
)
select i.line_no, i.email,
       (select c.import_line_no from public.contacts c where c.email = i.email) as first_line
from pg_temp.import_contacts i
where not exists (select from applied a where a.line_no = i.line_no)`;

/** One statement cannot upsert the same key twice, so duplicates inside the rows are settled here. */
function prepare(rows: { lineNo: number; row: Contact }[]): PreparedRows {
  const firstLine = new Map<string, number>();
  const unique: [string, string, string | null, string | null, string | null, number][] = [];
  const duplicates: Duplicate[] = [];
  for (const { lineNo, row } of rows) {
    const seen = firstLine.get(row.email);
    if (seen === undefined) {
      firstLine.set(row.email, lineNo);
      unique.push([row.email, row.name, row.company, row.country, row.phone, lineNo]);
    } else {
      duplicates.push({ lineNo, field: "email", message: duplicateMessage(row.email, seen) });
    }
  }
  return { count: unique.length, copy: copyText(unique), duplicates };
}

async function write(
  client: pg.ClientBase,
  jobId: string,
  rows: PreparedRows,
  meanwhile?: () => void,
): Promise<UpsertResult> {
  if (rows.count === 0) return { applied: 0, duplicates: [] };
  await copyFrom(client, COPY_IN, rows.copy);
  const upsert = client.query<{ line_no: number; email: string; first_line: number }>({
    name: "import-contacts-upsert",
    text: UPSERT,
    values: [jobId],
  });
  meanwhile?.();
  const res = await upsert;
  const duplicates = res.rows.map((d) => ({
    lineNo: d.line_no,
    field: "email",
    message: duplicateMessage(d.email, d.first_line),
  }));
  return { applied: rows.count - duplicates.length, duplicates };
}

function duplicateMessage(email: string, firstLine: number): string {
  return `email ${email} already appears on line ${firstLine}; this line was skipped (emails must be unique)`;
}

export const contacts: Target<Contact> = {
  name: "contacts",
  requiredFields: ["email", "name"],
  validate: validateContact,
  prepare,
  write,
};
