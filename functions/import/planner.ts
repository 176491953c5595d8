// Staging's bookkeeping, pure: which batch each record falls in, and where each batch's bytes begin
// and end in the source (from the LineTap that saw them). A batch begins at its first record's line
// and ends where the next batch begins, so the lines between records (blank, unreadable) belong to
// the batch before them and the ranges cover the file from the first record on without gaps.
import { batchOf } from "./batch-math.ts";
import type { LineTap } from "./line-tap.ts";
import type { ParsedItem } from "./parse.ts";
import type { BatchPlan } from "./plan.ts";

export class BatchPlanner {
  /** Records seen so far. */
  records = 0;
  private current: Omit<BatchPlan, "end" | "checksum"> | undefined;
  private readonly batchSize: number;
  private readonly tap: LineTap;

  constructor(batchSize: number, tap: LineTap) {
    this.batchSize = batchSize;
    this.tap = tap;
  }

  /** The batches that the records among `items` complete. */
  take(items: ParsedItem[]): BatchPlan[] {
    const done: BatchPlan[] = [];
    for (const it of items) {
      if (it.kind !== "record") continue;
      if (this.records % this.batchSize === 0) {
        if (this.current) done.push({ ...this.current, ...this.tap.cut(it.lineNo) });
        else this.tap.begin(it.lineNo);
        this.current = {
          index: batchOf(this.records, this.batchSize),
          start: this.tap.offsetOf(it.lineNo),
          firstLine: it.lineNo,
          rows: 0,
        };
      }
      this.current!.rows++;
      this.records++;
    }
    return done;
  }

  /** The last batch, which ends with the source; undefined when there was no record. */
  finish(): BatchPlan | undefined {
    return this.current && { ...this.current, ...this.tap.finish() };
  }
}
