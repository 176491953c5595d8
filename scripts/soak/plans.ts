// What each soak row asks for, drawn from the seeded generator, and what it must end as. Pure: the load
// generator stores a plan with its row (soak.rows.plan), the origin server renders files and provider
// answers from it, and the invariants compare the outcome with it.
import { KNOWN_STYLES } from "../../functions/images/styles.ts";
import type { Random } from "./random.ts";

export interface ImportPlan {
  format: "csv" | "jsonl";
  /** Data lines in the file (the CSV header is not one). */
  lines: number;
  batchSize: number;
  /** Line numbers whose email is invalid: one import_errors row each, field email. */
  invalid: number[];
  /** Line numbers that are not a record at all: one import_errors row each, no field. */
  unreadable: number[];
  /** The URL answers 404: the job fails and imports nothing. */
  missing: boolean;
  /** A batch whose first two attempts fail inside its transaction (app.import_fault_injections). */
  failingBatch: number | null;
}

/** How the fake provider treats one style of a request (calls counted by the provider itself). */
export type StyleFate = "ok" | "transient" | "ratelimited" | "exhausted" | "rejected";

export interface ImagePlan {
  styles: { style: string; fate: StyleFate; latencyMs: number }[];
}

export function firstDataLine(format: ImportPlan["format"]): number {
  return format === "csv" ? 2 : 1;
}

/** Small files most of the time, a large one now and then; some bad lines, some failing batches. */
export function importPlan(rnd: Random): ImportPlan {
  const large = rnd.next() < 0.15;
  const format = rnd.next() < 0.7 ? "csv" : "jsonl";
  const lines = large ? rnd.int(4000, 8000) : rnd.int(20, 400);
  const batchSize = large ? 1000 : rnd.pick([50, 100, 200]);
  const first = firstDataLine(format);
  const bad = new Set<number>();
  const invalid: number[] = [];
  const unreadable: number[] = [];
  if (rnd.next() < 0.6) {
    const n = rnd.int(1, Math.max(1, Math.floor(lines / 20)));
    for (let i = 0; i < n; i++) {
      const line = first + rnd.int(0, lines - 1);
      if (bad.has(line)) continue;
      bad.add(line);
      (rnd.next() < 0.7 ? invalid : unreadable).push(line);
    }
  }
  invalid.sort((a, b) => a - b);
  unreadable.sort((a, b) => a - b);
  const records = lines - unreadable.length;
  const batches = Math.ceil(records / batchSize);
  return {
    format,
    lines,
    batchSize,
    invalid,
    unreadable,
    missing: rnd.next() < 0.05,
    failingBatch: rnd.next() < 0.1 ? rnd.int(0, batches - 1) : null,
  };
}

export function importFile(tag: string, plan: ImportPlan): string {
  const first = firstDataLine(plan.format);
  const invalid = new Set(plan.invalid);
  const unreadable = new Set(plan.unreadable);
  const out: string[] = plan.format === "csv" ? ["email,name,company,country,phone"] : [];
  for (let line = first; line < first + plan.lines; line++) {
    const email = invalid.has(line) ? `not-an-email-${line}` : importEmail(line, tag);
    if (plan.format === "csv") {
      out.push(
        unreadable.has(line) ? `only,three,${line}` : `${email},Contact ${line},Acme,DE,+49 30 ${line}`,
      );
    } else {
      out.push(unreadable.has(line) ? `[${line}]` : JSON.stringify({ email, name: `Contact ${line}` }));
    }
  }
  return `${out.join("\n")}\n`;
}

export function importEmail(line: number, tag: string): string {
  return `c${line}@${tag}.test`;
}

export function expectedImportStatus(plan: ImportPlan): string {
  if (plan.missing) return "failed";
  return plan.invalid.length + plan.unreadable.length > 0 ? "partially_succeeded" : "succeeded";
}

const FATES: [StyleFate, number][] = [
  ["ok", 55],
  ["transient", 15],
  ["ratelimited", 5],
  ["exhausted", 10],
  ["rejected", 15],
];

export function imagePlan(rnd: Random): ImagePlan {
  const pool = [...KNOWN_STYLES];
  const n = rnd.int(1, 4);
  const styles: ImagePlan["styles"] = [];
  for (let i = 0; i < n; i++) {
    const style = pool.splice(rnd.int(0, pool.length - 1), 1)[0]!;
    styles.push({ style, fate: rnd.weighted(FATES), latencyMs: rnd.int(100, 1200) });
  }
  return { styles };
}

export function styleSucceeds(fate: StyleFate): boolean {
  return fate === "ok" || fate === "transient" || fate === "ratelimited";
}

export function expectedImageStatus(plan: ImagePlan): string {
  const ok = plan.styles.filter((s) => styleSucceeds(s.fate)).length;
  return ok === plan.styles.length ? "succeeded" : ok === 0 ? "failed" : "partially_succeeded";
}
