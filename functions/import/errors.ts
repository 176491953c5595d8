// An error the person who inserted the job must fix (bad URL, 404, malformed header, ...). Retrying
// cannot help, so steps turn it into a `failed` job at once instead of spending the retry budget.
export class InputError extends Error {
  override name = "InputError";
}

// The job's row is gone (deleted after a cancel, or never there): no step can do anything for it, so
// the workflow stops at once instead of retrying against missing rows.
export class JobGoneError extends Error {
  override name = "JobGoneError";
}

// The source no longer has the bytes staging read (a file rewritten, an http resource replaced): a batch
// cannot be read as it was staged, and retrying will not bring it back.
export class SourceChangedError extends Error {
  override name = "SourceChangedError";
}

export function isSourceChanged(err: unknown): err is Error {
  return err instanceof Error && err.name === "SourceChangedError";
}

/** By name: a step's error that was recorded and replayed is not an instance of the class any more. */
export function isJobGone(err: unknown): err is Error {
  return err instanceof Error && err.name === "JobGoneError";
}
