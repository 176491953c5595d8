// A TCP port in front of Postgres that a test opens, cuts and closes: the database "down" while it is
// closed, and a network fault or a crashed host when its connections are cut (the sockets are
// dropped without a word from the server); and a server that takes connections and never answers.
import { connect, createServer, type Server, type Socket } from "node:net";
import { freePort } from "./free-port.ts";

export interface TcpProxy {
  /** The database's URL, through the proxy. */
  url: string;
  /** Starts taking connections. */
  open(): Promise<void>;
  /** Drops every open connection; new ones are still taken while open. */
  cut(): void;
  /** Drops every open connection and refuses new ones until opened again. */
  close(): Promise<void>;
}

/** A proxy for `databaseUrl`, closed until opened. */
export async function tcpProxy(databaseUrl: string): Promise<TcpProxy> {
  const target = new URL(databaseUrl);
  const port = await freePort();
  let server: Server | undefined;
  const sockets = new Set<Socket>();
  const cut = () => {
    for (const s of sockets) s.destroy();
  };
  return {
    url: Object.assign(new URL(databaseUrl), { port: String(port) }).toString(),
    async open() {
      server = createServer((client) => {
        const upstream = connect(Number(target.port), target.hostname);
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on("error", () => {
            client.destroy();
            upstream.destroy();
          });
          s.on("close", () => sockets.delete(s));
        }
        client.pipe(upstream).pipe(client);
      });
      await new Promise<void>((r) => server!.listen(port, "127.0.0.1", r));
    },
    cut,
    async close() {
      cut();
      const s = server;
      server = undefined;
      if (s) await new Promise((r) => s.close(r));
    },
  };
}

export interface SilentServer {
  /** The database's URL, pointed at this server. */
  url: string;
  close(): Promise<void>;
}

/** A server that takes connections and never answers, as a hung proxy or a dead route does. */
export async function silentServer(databaseUrl: string): Promise<SilentServer> {
  const accepted: Socket[] = [];
  const server = createServer((socket) => accepted.push(socket));
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return {
    url: Object.assign(new URL(databaseUrl), { port: String(port) }).toString(),
    async close() {
      for (const socket of accepted) socket.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
