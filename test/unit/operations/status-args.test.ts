// `npm run status`'s command line: a bad interval no longer polls the database hundreds of times a
// second, --help is help, an empty listing names its filter, and watch mode says when it refreshed.
import { describe, expect, it } from "vitest";
import {
  noRunsMessage,
  parseStatusArgs,
  refreshedLine,
  USAGE,
} from "../../../functions/operations/status-args.ts";

describe("parseStatusArgs", () => {
  it("refuses an interval that is not a whole number of milliseconds from 200 to 3600000", () => {
    for (const bad of ["abc", "0", "-5", "1.5", "199", "3600001", ""]) {
      expect(parseStatusArgs(["--watch", `--interval=${bad}`]), bad).toEqual({
        kind: "error",
        message: `--interval must be a whole number of milliseconds from 200 to 3600000, got ${JSON.stringify(bad)}`,
      });
    }
    expect(parseStatusArgs(["--watch", "--interval", "500"])).toEqual({
      kind: "run",
      options: { filter: { limit: 20 }, watch: true, intervalMs: 500 },
    });
  });

  it("answers --help and -h with the usage, and an unknown option with the usage too", () => {
    expect(parseStatusArgs(["--help"])).toEqual({ kind: "help", text: USAGE });
    expect(parseStatusArgs(["-h"])).toEqual({ kind: "help", text: USAGE });
    const unknown = parseStatusArgs(["--kinds", "import"]);
    expect(unknown.kind).toBe("error");
    expect(unknown.kind === "error" && unknown.message).toMatch(
      /Unknown option '--kinds'[\s\S]*usage: npm run status/,
    );
  });

  it("keeps the filter's own checks", () => {
    expect(parseStatusArgs(["--kind", "nope"])).toEqual({
      kind: "error",
      message: "kind must be one of import, images, ingest",
    });
  });
});

describe("what status prints", () => {
  it("says no run matches, naming the filter", () => {
    expect(noRunsMessage({ kind: "import", status: "failed", limit: 20 })).toBe(
      "no runs match kind=import status=failed",
    );
    expect(noRunsMessage({})).toBe("no runs yet");
  });

  it("says when the watch screen was refreshed", () => {
    expect(refreshedLine(new Date("2026-11-28T21:58:32.123Z"), 1000)).toBe(
      "refreshed 21:58:32 UTC, every 1000 ms; Ctrl-C stops",
    );
  });
});
