// Opening sources for real: loopback HTTP (allowed only in local mode), redirects, and the file://
// folder confinement including symlinks that point out of it.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { InputError } from "../../../functions/import/errors.ts";
import { openSource } from "../../../functions/import/source.ts";
import { type LoopbackServer, startLoopbackServer } from "../../support/http-server.ts";

let server: LoopbackServer;
let root: string;
let outside: string;

beforeAll(async () => {
  server = await startLoopbackServer((req, res) => {
    if (req.url === "/data.csv") res.writeHead(200).end("email,name\na@x.test,A\n");
    else if (req.url === "/moved") res.writeHead(302, { location: "/data.csv" }).end();
    else if (req.url === "/loop") res.writeHead(302, { location: "/loop" }).end();
    else if (req.url === "/bad-hop") res.writeHead(302, { location: "http://[bad" }).end();
    else res.writeHead(404).end();
  });
  root = mkdtempSync(join(tmpdir(), "import-root-"));
  outside = mkdtempSync(join(tmpdir(), "import-outside-"));
  mkdirSync(join(root, "sub"));
  writeFileSync(join(root, "sub", "in.csv"), "inside\n");
  writeFileSync(join(outside, "secret.csv"), "secret\n");
  symlinkSync(join(outside, "secret.csv"), join(root, "link.csv"));
});
afterAll(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

async function read(url: string, localMode: boolean): Promise<string> {
  const chunks: Buffer[] = [];
  const local = localMode ? { blockedPorts: new Set<number>() } : undefined;
  for await (const c of await openSource(url, { fileRoot: root, local })) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks).toString();
}

describe("http(s) sources", () => {
  it("refuse loopback and private hosts unless local mode allows them", async () => {
    const port = new URL(server.url).port;
    for (const url of [
      `${server.url}/data.csv`,
      `http://localhost:${port}/data.csv`,
      `http://[::1]:${port}/data.csv`,
    ]) {
      await expect(read(url, false), url).rejects.toThrow(
        /private or local address; imports may only fetch public/,
      );
    }
    await expect(read("http://169.254.169.254/latest/meta-data", false)).rejects.toThrow(InputError);
    expect(await read(`${server.url}/data.csv`, true)).toBe("email,name\na@x.test,A\n");
  });

  it("follow redirects a bounded number of times", async () => {
    expect(await read(`${server.url}/moved`, true)).toBe("email,name\na@x.test,A\n");
    await expect(read(`${server.url}/loop`, true)).rejects.toThrow(/redirects more than 5 times/);
    await expect(read(`${server.url}/bad-hop`, true)).rejects.toThrow(
      /redirects to an invalid URL http:\/\/\[bad/,
    );
    await expect(read(`${server.url}/nope.csv`, true)).rejects.toThrow(/answered HTTP 404/);
  });
});

describe("file:// sources", () => {
  it("read relative and absolute paths inside the folder", async () => {
    expect(await read("file://sub/in.csv", false)).toBe("inside\n");
    expect(await read(`file://${join(root, "sub", "in.csv")}`, false)).toBe("inside\n");
  });

  it("refuse paths and symlinks that leave the folder", async () => {
    await expect(read("file://link.csv", false)).rejects.toThrow(/outside the import folder/);
    await expect(read(`file://${join(outside, "secret.csv")}`, false)).rejects.toThrow(
      /outside the import folder/,
    );
    await expect(read("file://../x.csv", false)).rejects.toThrow(/outside the import folder/);
    await expect(read("file://sub", false)).rejects.toThrow(/is not a regular file/);
  });
});
