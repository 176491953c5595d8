// `markdown_dir`: every .md file under a local folder. Flat: one plain async crawl, no per-item sub-runs.
import { readdir, readFile, realpath, stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { readEnv } from "../../shared/env.ts";
import { bool, int, optStr, SourceConfigError, str, validated } from "./config.ts";
import type { CrawledDoc, FlatKind } from "./types.ts";

export interface MarkdownDirConfig {
  path: string;
  /** Prefix for document URLs (e.g. the repository's web URL); documents have no URL without it. */
  urlBase: string | undefined;
  maxFiles: number;
  /** False: only the folder's own files, e.g. a repository root's README.md without the whole tree. */
  recursive: boolean;
}

async function walk(dir: string, out: string[], max: number, recursive: boolean): Promise<void> {
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
  for (const e of entries) {
    if (out.length >= max) return;
    if (e.name.startsWith(".") || e.name === "node_modules") continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (recursive) await walk(p, out, max, recursive);
    } else if (e.isFile() && /\.(md|markdown)$/i.test(e.name)) out.push(p);
  }
}

function fileRoot(): string {
  return resolve(readEnv("INGEST_FILE_ROOT") || process.cwd());
}

function outside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel);
}

function titleOf(markdown: string, file: string): string {
  const h = /^#\s+(.+?)\s*#*\s*$/m.exec(markdown);
  return h?.[1] ?? file.replace(/\.(md|markdown)$/i, "");
}

export const markdownDir: FlatKind<MarkdownDirConfig> = {
  kind: "markdown_dir",
  network: false,
  parseConfig: validated((o) => {
    const raw = str(o, "path");
    // Whoever writes a source row chooses this path, and what it reads becomes searchable: only the
    // folder INGEST_FILE_ROOT (default: the worker's working directory, the repository) is readable.
    const root = fileRoot();
    const path = isAbsolute(raw) ? resolve(raw) : resolve(root, raw);
    if (outside(root, path)) {
      throw new SourceConfigError(
        `config.path ${raw} is outside INGEST_FILE_ROOT (${root}); markdown_dir sources read only below it`,
      );
    }
    return {
      path,
      urlBase: optStr(o, "url_base"),
      maxFiles: int(o, "max_files", 5000, 1, 100_000),
      recursive: bool(o, "recursive", true),
    };
  }),
  async crawl(config) {
    // Checked again with symlinks resolved, so a link inside the folder cannot lead out of it.
    const [root, real] = await Promise.all([
      realpath(fileRoot()).catch(() => fileRoot()),
      realpath(config.path).catch(() => config.path),
    ]);
    if (outside(root, real))
      throw new Error(`markdown_dir: ${config.path} leads outside INGEST_FILE_ROOT (${root})`);
    const info = await stat(config.path).catch(() => null);
    if (!info?.isDirectory()) throw new Error(`markdown_dir: ${config.path} is not a readable directory`);
    const files: string[] = [];
    await walk(config.path, files, config.maxFiles, config.recursive);
    const docs: CrawledDoc[] = [];
    for (const file of files) {
      const content = await readFile(file, "utf8");
      const rel = relative(config.path, file).split(sep).join("/");
      docs.push({
        path: rel,
        url: config.urlBase ? `${config.urlBase.replace(/\/$/, "")}/${rel}` : null,
        title: titleOf(content, rel),
        content,
        metadata: { bytes: Buffer.byteLength(content) },
      });
    }
    return docs;
  },
};
