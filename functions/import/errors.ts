// An error the person who inserted the job must fix (bad URL, 404, malformed header, ...). Retrying
// cannot help, so steps turn it into a `failed` job at once instead of spending the retry budget.
export class InputError extends Error {
  override name = "InputError";
}
