// A loopback stand-in for an OpenAI-compatible /v1/embeddings endpoint, so the hosted-provider path (the
// worker indexing, the search function embedding queries) runs end to end without a key or the network.
// Vectors are hashed bags of words: texts that share words are close, as with a real model, and every
// text always gets the same vector. A text containing "provider-fails" gets a 401 with a key in its body.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface FakeOpenAi {
  /** The base URL to give as OPENAI_BASE_URL. */
  baseUrl: string;
  requests: {
    authorization: string | undefined;
    body: { model: string; input: string[]; dimensions: number };
  }[];
  close(): Promise<void>;
}

function hashedBagOfWords(text: string, dims: number): number[] {
  const v = new Array<number>(dims).fill(0);
  for (const word of text.toLowerCase().match(/[a-z0-9]+/g) ?? []) {
    let h = 2166136261;
    for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 16777619);
    v[(h >>> 0) % dims]! += h & 1 ? 1 : -1;
  }
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

export async function startFakeOpenAi(): Promise<FakeOpenAi> {
  const requests: FakeOpenAi["requests"] = [];
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (d) => {
      raw += d;
    });
    req.on("end", () => {
      const body = JSON.parse(raw);
      requests.push({ authorization: req.headers.authorization, body });
      if (req.url !== "/v1/embeddings") {
        res.writeHead(404).end();
      } else if (body.input.some((t: string) => t.includes("provider-fails"))) {
        res
          .writeHead(401, { "content-type": "application/json" })
          .end('{"error":{"message":"Incorrect API key provided: sk-test-secret"}}');
      } else {
        const data = body.input.map((t: string, index: number) => ({
          index,
          embedding: hashedBagOfWords(t, body.dimensions),
        }));
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ data }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    requests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
