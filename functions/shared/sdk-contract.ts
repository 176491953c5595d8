// What our networks rely on in the Resonate SDK beyond its published types, checked when a client is
// built so that a different SDK fails at start, by name, instead of leaving a worker that looks
// healthy and never takes work. Written against @resonatehq/sdk 0.11.5, whose Resonate constructor
// registers one receiver with network.recv() and then calls network.init() (without awaiting it).
import { createRequire } from "node:module";

/** The installed SDK's version, for messages. */
export function sdkVersion(): string {
  try {
    return (createRequire(import.meta.url)("@resonatehq/sdk/package.json") as { version: string }).version;
  } catch {
    return "(unknown version)";
  }
}

export function assertAttached(network: { attached(): boolean }): void {
  if (network.attached()) return;
  throw new Error(
    `@resonatehq/sdk ${sdkVersion()}: new Resonate({ network }) did not register a receiver with ` +
      "network.recv() and call network.init(), as 0.11.5 does; the durable store network would never " +
      "deliver a message. Check the SDK's Resonate constructor before upgrading.",
  );
}
