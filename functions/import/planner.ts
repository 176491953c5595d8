// Staging's bookkeeping, pure: which batch each record falls in, and where each batch's bytes begin
// and end in the source (from the LineTap that saw them). A batch begins at its first record's line
// and ends where the next batch begins, so the lines between records (blank, unreadable) belong to
// the batch before them and the ranges cover the file from the first record on without gaps.
import type { LineTap } from "./line-tap.ts";
import type { ParsedItem } from "./parse.ts";
import type { BatchPlan } from "./plan.ts";

/**
 * A batch's bytes a record may not begin beyond: a batch step holds its batch's bytes and what they
 * encode to, and reads the next batch meanwhile, so wide records (up to 1 MiB each) at a large
 * batch_size would otherwise take gigabytes and end the worker. A batch ends at batch_size records or
 * at the first record past this, whichever comes first; at most this plus one record's bytes.
 * Restaging a job must cut the same batches, so this does not change under a job's feet.
 */
export const MAX_BATCH_BYTES = 16 << 20;

export class BatchPlanner {
  /** Records seen so far. */
  records = 0;
  /** Batches begun so far. */
  batches = 0;
  private current: Omit<BatchPlan, "end" | "checksum"> | undefined;
  private readonly batchSize: number;
  private readonly maxBatchBytes: number;
  private readonly tap: LineTap;

  constructor(batchSize: number, tap: LineTap, maxBatchBytes = MAX_BATCH_BYTES) {
    this.batchSize = batchSize;
    this.tap = tap;
    this.maxBatchBytes = maxBatchBytes;
  }

  /** The batches that the records among `items` complete. */
  take(items: ParsedItem[]): BatchPlan[] {
    const done: BatchPlan[] = [];
    for (const it of items) {
      if (it.kind !== "record") continue;
      const at = this.tap.offsetOf(it.lineNo);
      const c = this.current;
      if (!c || c.rows === this.batchSize || at - c.start >= this.maxBatchBytes) {
        if (c) done.push({ ...c, ...this.tap.cut(it.lineNo) });
        else this.tap.begin(it.lineNo);
        this.current = {
          index: this.batches++,
          start: at,
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
