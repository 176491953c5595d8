// One Edge Function in a Deno process of its own, as the edge runtime gives each function its own isolate:
// `function-isolate.ts <unix socket> <index.ts URL>`, started by function-isolates.ts. The function calls
// Deno.serve(handler) at top level as it does on the platform; the handler is kept and served on the
// router's socket only once the module has finished loading, so a listening socket means "loaded". The
// socket is bound under another name and renamed once it listens: the router takes the socket's file for
// "ready", and a file that exists between bind and listen refuses connections.
const [socket, entry] = Deno.args;
if (!socket || !entry) {
  console.error("usage: function-isolate.ts <unix socket> <index.ts URL>");
  Deno.exit(2);
}

let handler: Deno.ServeHandler | undefined;
const served = Promise.withResolvers<Deno.HttpServer>();
const serve = Deno.serve;
Object.assign(Deno, {
  serve(...args: unknown[]) {
    handler = (args.find((a) => typeof a === "function") ??
      (args[0] as { handler?: unknown } | undefined)?.handler) as Deno.ServeHandler | undefined;
    const server = served.promise;
    return {
      finished: server.then((s) => s.finished),
      shutdown: () => server.then((s) => s.shutdown()),
      ref() {},
      unref() {},
    };
  },
});

try {
  await import(entry);
  if (!handler) throw new Error("index.ts did not call Deno.serve(handler)");
} catch (err) {
  console.error(`failed to load: ${(err as Error).stack ?? err}`);
  Deno.exit(1);
}

served.resolve(
  serve(
    {
      path: `${socket}.binding`,
      onListen() {
        Deno.renameSync(`${socket}.binding`, socket);
      },
      // What the local server answered before functions had isolates of their own; the isolate lives on.
      onError: (err) =>
        Response.json({ error: "function threw", message: (err as Error).message }, { status: 500 }),
    },
    handler,
  ),
);

// The router holds our stdin open: when it exits, however it exits, this isolate goes with it.
await Deno.stdin.readable.pipeTo(new WritableStream());
Deno.exit(0);
