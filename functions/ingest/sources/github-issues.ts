// `github_issues`: list-then-process over the GitHub REST API. The listing pages through
// /repos/{repo}/issues (Link headers); each issue is fetched with its comments in its own sub-run. The
// token, if any, comes from an environment variable named in the config, never from the table.
import { readEnv } from "../../shared/env.ts";
import { fetchText } from "../fetch.ts";
import {
  httpUrl,
  int,
  type NetworkConfig,
  networkConfig,
  optStr,
  SourceConfigError,
  str,
  validated,
} from "./config.ts";
import type { CrawledDoc, ListedItem, ListedKind } from "./types.ts";

export interface GithubIssuesConfig extends NetworkConfig {
  apiUrl: string;
  repo: string;
  state: "open" | "closed" | "all";
  perPage: number;
  maxPages: number;
}

interface Issue {
  number: number;
  title: string;
  body: string | null;
  html_url: string;
  state: string;
  user?: { login?: string };
  pull_request?: unknown;
  updated_at?: string;
}

interface Comment {
  body: string | null;
  user?: { login?: string };
  created_at?: string;
}

export function nextLink(link: string | null): string | null {
  if (!link) return null;
  for (const part of link.split(",")) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m) return m[1]!;
  }
  return null;
}

function asArray(body: string, url: string): unknown[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new Error(`GET ${url}: answer is not JSON`);
  }
  if (!Array.isArray(parsed)) throw new Error(`GET ${url}: expected a JSON array`);
  return parsed;
}

function isIssue(v: unknown): v is Issue {
  const o = v as Issue;
  return typeof o === "object" && o !== null && Number.isInteger(o.number) && typeof o.title === "string";
}

export function issueDocument(issue: Issue, comments: Comment[]): CrawledDoc {
  const parts = [`# ${issue.title}`, "", issue.body?.trim() || "(no description)"];
  for (const c of comments) {
    parts.push(
      "",
      `## Comment by ${c.user?.login ?? "unknown"}${c.created_at ? ` on ${c.created_at.slice(0, 10)}` : ""}`,
      "",
    );
    parts.push(c.body?.trim() || "(empty)");
  }
  return {
    path: `issues/${issue.number}`,
    url: issue.html_url ?? null,
    title: `#${issue.number} ${issue.title}`,
    content: parts.join("\n"),
    metadata: {
      number: issue.number,
      state: issue.state,
      author: issue.user?.login ?? null,
      comments: comments.length,
    },
  };
}

async function pages(url: string, config: GithubIssuesConfig): Promise<unknown[]> {
  const all: unknown[] = [];
  let next: string | null = url;
  for (let page = 0; next && page < config.maxPages; page++) {
    const res = await fetchText(next, config.fetch);
    all.push(...asArray(res.body, next));
    next = nextLink(res.headers.get("link"));
  }
  return all;
}

const TOKEN_ENV = /^GITHUB_TOKEN[A-Z0-9_]*$/;

export const githubIssues: ListedKind<GithubIssuesConfig> = {
  kind: "github_issues",
  network: true,
  parseConfig: validated((o) => {
    const repo = str(o, "repo");
    if (!/^[\w.-]+\/[\w.-]+$/.test(repo))
      throw new SourceConfigError(`config.repo must be "owner/name", got ${JSON.stringify(repo)}`);
    const state = str(o, "state", "all");
    if (state !== "open" && state !== "closed" && state !== "all") {
      throw new SourceConfigError(`config.state must be open, closed or all, got ${JSON.stringify(state)}`);
    }
    const tokenEnv = optStr(o, "token_env");
    // Whoever can write a source row chooses this name and the host it is sent to, so only variables
    // meant for it qualify: never DATABASE_URL, the service role key or another provider's key.
    if (tokenEnv && !TOKEN_ENV.test(tokenEnv)) {
      throw new SourceConfigError(
        `config.token_env must name a variable starting with GITHUB_TOKEN (for example GITHUB_TOKEN or GITHUB_TOKEN_ACME), got ${JSON.stringify(tokenEnv)}; no other worker variable is sent`,
      );
    }
    const token = tokenEnv ? readEnv(tokenEnv) : undefined;
    if (tokenEnv && !token)
      throw new SourceConfigError(`config.token_env names ${tokenEnv}, which is not set on the worker`);
    const headers: Record<string, string> = {
      accept: "application/vnd.github+json",
      "x-github-api-version": "2022-11-28",
    };
    if (token) headers.authorization = `Bearer ${token}`;
    const apiUrl = httpUrl(o, "api_url", "https://api.github.com").replace(/\/$/, "");
    const network = networkConfig(o, headers);
    return {
      apiUrl,
      repo,
      state,
      perPage: int(o, "per_page", 100, 1, 100),
      maxPages: int(o, "max_pages", 20, 1, 1000),
      ...network,
      // The token goes to the API's own host only, not to where a redirect or a Link header points.
      fetch: { ...network.fetch, authOrigin: new URL(apiUrl).origin },
    };
  }),
  limits: (c) => ({ maxItemsPerRun: c.maxItemsPerRun, concurrency: c.concurrency }),
  async list(config) {
    const url = `${config.apiUrl}/repos/${config.repo}/issues?state=${config.state}&per_page=${config.perPage}`;
    const items: ListedItem[] = [];
    for (const v of await pages(url, config)) {
      if (!isIssue(v)) throw new Error(`GET ${url}: an entry is not an issue (needs number and title)`);
      if (v.pull_request) continue;
      items.push({
        key: `issues/${v.number}`,
        url: `${config.apiUrl}/repos/${config.repo}/issues/${v.number}`,
      });
    }
    return items;
  },
  async fetchItem(config, item) {
    const res = await fetchText(item.url, config.fetch);
    let issue: unknown;
    try {
      issue = JSON.parse(res.body);
    } catch {
      throw new Error(`GET ${item.url}: answer is not JSON`);
    }
    if (!isIssue(issue)) throw new Error(`GET ${item.url}: answer is not an issue`);
    const comments = (await pages(`${item.url}/comments?per_page=100`, config)) as Comment[];
    return issueDocument(issue, comments);
  },
};
