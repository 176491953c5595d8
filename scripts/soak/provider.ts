// A stand-in for OpenAI's Images API that the soak's workers call (IMAGES_PROVIDER=openai with
// OPENAI_BASE_URL on the soak's origin server). It is the one witness of provider calls outside the
// system under test: it counts every call per (request tag, style), answers as the row's plan says, and
// returns a PNG that differs per call, so the stored object can be traced to the call that made it.
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { encodePng } from "../../functions/images/png.ts";
import type { StyleFate } from "./plans.ts";

export interface ProviderCall {
  tag: string;
  style: string;
  seq: number;
  startedAt: Date;
  status: number;
  sha256: string | null;
}

export interface FakeProvider {
  handle(req: IncomingMessage, body: string, res: ServerResponse): Promise<void>;
  calls: ProviderCall[];
}

/** The plan of one style of one request, by the request's prompt tag. */
export type FateOf = (tag: string, style: string) => { fate: StyleFate; latencyMs: number } | undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// functions/images/openai.ts sends `${prompt}\n\nStyle: ${style with - as space}.`
const PROMPT = /^soak image (\S+)\n\nStyle: (.+)\.$/;

function png(seq: number): { bytes: Buffer; sha256: string } {
  const side = 16;
  const rgb = new Uint8Array(side * side * 3);
  for (let i = 0; i < rgb.length; i += 3) {
    rgb[i] = seq & 0xff;
    rgb[i + 1] = (seq >> 8) & 0xff;
    rgb[i + 2] = (i / 3) & 0xff;
  }
  const bytes = Buffer.from(encodePng(side, side, rgb));
  return { bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
}

export function fakeProvider(fateOf: FateOf): FakeProvider {
  const calls: ProviderCall[] = [];
  const perStyle = new Map<string, number>();
  const answer = (res: ServerResponse, status: number, body: unknown, headers = {}) => {
    if (res.destroyed) return;
    res.writeHead(status, { "content-type": "application/json", ...headers }).end(JSON.stringify(body));
  };
  return {
    calls,
    async handle(_req, body, res) {
      const startedAt = new Date();
      const prompt = (JSON.parse(body) as { prompt?: string }).prompt ?? "";
      const m = PROMPT.exec(prompt);
      const plan = m && fateOf(m[1]!, m[2]!.replace(/ /g, "-"));
      if (!m || !plan) {
        answer(res, 400, {
          error: { message: `soak provider: no plan for prompt ${JSON.stringify(prompt)}` },
        });
        return;
      }
      const [tag, style] = [m[1]!, m[2]!.replace(/ /g, "-")];
      const key = `${tag}/${style}`;
      const n = (perStyle.get(key) ?? 0) + 1;
      perStyle.set(key, n);
      const call: ProviderCall = { tag, style, seq: calls.length + 1, startedAt, status: 0, sha256: null };
      calls.push(call);
      await sleep(plan.latencyMs);
      const fail =
        plan.fate === "exhausted" ||
        plan.fate === "rejected" ||
        (n === 1 && (plan.fate === "transient" || plan.fate === "ratelimited"));
      if (fail) {
        call.status = plan.fate === "rejected" ? 400 : plan.fate === "ratelimited" ? 429 : 500;
        const error =
          call.status === 400
            ? { message: "Your request was rejected by the safety system.", code: "content_policy_violation" }
            : { message: "The server had an error while processing your request.", type: "server_error" };
        answer(res, call.status, { error }, call.status === 429 ? { "retry-after-ms": "300" } : {});
        return;
      }
      const image = png(call.seq);
      call.status = 200;
      call.sha256 = image.sha256;
      answer(res, 200, {
        created: Math.floor(Date.now() / 1000),
        data: [{ b64_json: image.bytes.toString("base64") }],
      });
    },
  };
}
