// Every import target by name. Another target is one file and one entry here.
import { contacts } from "./contacts.ts";
import type { Target } from "./target.ts";

// biome-ignore lint/suspicious/noExplicitAny: each entry keeps its own row type; callers only pass rows a target validated itself.
const TARGETS: Record<string, Target<any>> = { contacts };

export function targetNames(): string[] {
  return Object.keys(TARGETS);
}

// biome-ignore lint/suspicious/noExplicitAny: see TARGETS.
export function getTarget(name: string): Target<any> | undefined {
  return Object.hasOwn(TARGETS, name) ? TARGETS[name] : undefined;
}
