// How a workload's steps reach their dependencies (pool, provider, logger...): the workload registers
// them on the worker's Resonate client under its kind (resonate.setDependency), and each step reads
// them from its context. Steps stay plain top-level functions, testable alone.
import type { Context } from "@resonatehq/sdk";

export function dependency<T>(ctx: Context, kind: string): T {
  const d = ctx.getDependency<T>(kind);
  if (d === undefined)
    throw new Error(`dependency "${kind}" is not set; register the ${kind} workload first`);
  return d;
}
