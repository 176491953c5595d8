// `npm run soak -- --minutes N [--rate R] [--seed S] [--benchmarks]`
import { randomInt } from "node:crypto";
import { parseArgs } from "node:util";

export interface SoakArgs {
  /** How long rows keep arriving and faults keep coming; the drain after it is extra. */
  minutes: number;
  /** Import jobs and image requests per minute, together (ingest runs come one after another). */
  rate: number;
  seed: number;
  /** Write the run's tables into BENCHMARKS.md. */
  benchmarks: boolean;
}

export const USAGE = "usage: npm run soak -- --minutes N [--rate ROWS_PER_MINUTE] [--seed S] [--benchmarks]";

export function parseSoakArgs(argv: string[]): SoakArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      minutes: { type: "string", default: "10" },
      rate: { type: "string", default: "20" },
      seed: { type: "string" },
      benchmarks: { type: "boolean", default: false },
    },
  });
  const minutes = Number(values.minutes);
  const rate = Number(values.rate);
  const seed = values.seed === undefined ? randomInt(2 ** 31) : Number(values.seed);
  if (!(minutes >= 0.5 && minutes <= 24 * 60))
    throw new Error(`--minutes must be from 0.5 to 1440. ${USAGE}`);
  if (!(rate > 0 && rate <= 600))
    throw new Error(`--rate must be above 0 and at most 600 per minute. ${USAGE}`);
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer. ${USAGE}`);
  return { minutes, rate, seed, benchmarks: values.benchmarks };
}
