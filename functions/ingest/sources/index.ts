// Every source kind by name. Adding a kind: one module in this folder, one entry here, and the kind in the
// ingest_sources check constraint.
import { githubIssues } from "./github-issues.ts";
import { markdownDir } from "./markdown-dir.ts";
import { rss } from "./rss.ts";
import { sitemap } from "./sitemap.ts";
import type { SourceKind } from "./types.ts";

export const SOURCE_KINDS: Record<string, SourceKind<never>> = {
  markdown_dir: markdownDir,
  sitemap,
  rss,
  github_issues: githubIssues,
} as Record<string, SourceKind<never>>;

export function sourceKind(kind: string): SourceKind<unknown> {
  const k = SOURCE_KINDS[kind];
  if (!k)
    throw new Error(
      `unknown source kind ${JSON.stringify(kind)}; known: ${Object.keys(SOURCE_KINDS).join(", ")}`,
    );
  return k as SourceKind<unknown>;
}
