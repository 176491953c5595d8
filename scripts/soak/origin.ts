// The soak's one loopback HTTP server, everything outside the system under test that the workers reach:
// import files (/imports/<tag>), the ingest corpus (/corpus/...), and the fake Images API
// (/v1/images/generations). It records the page fetches; the provider records its own calls.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Corpus } from "./corpus.ts";
import type { FakeProvider } from "./provider.ts";

export interface PageFetch {
  path: string;
  at: Date;
}

export interface Origin {
  url: string;
  fetches: PageFetch[];
  close(): Promise<void>;
}

export interface Routes {
  /** The import file for a tag, or undefined (404) when the plan says the source is missing. */
  importFile(tag: string): { type: string; body: string } | undefined;
  corpus: Corpus;
  provider: FakeProvider;
}

export async function startOrigin(routes: Routes): Promise<Origin> {
  const fetches: PageFetch[] = [];
  const server: Server = createServer(async (req, res) => {
    const path = new URL(req.url ?? "/", "http://origin").pathname;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    try {
      if (req.method === "POST" && path === "/v1/images/generations") {
        await routes.provider.handle(req, Buffer.concat(chunks).toString(), res);
        return;
      }
      let found: { type: string; body: string } | undefined;
      if (path.startsWith("/imports/")) found = routes.importFile(path.slice("/imports/".length));
      else if (path.startsWith("/corpus/")) {
        fetches.push({ path, at: new Date() });
        found = routes.corpus.page(path);
      }
      if (!found) res.writeHead(404, { "content-type": "text/plain" }).end("not found");
      else res.writeHead(200, { "content-type": found.type }).end(found.body);
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" });
      res.end(String(err));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    fetches,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
