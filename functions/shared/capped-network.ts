// The worker's concurrency cap for a Resonate Server backend (RESONATE_URL), whose messages are
// pushed to the process: execute messages beyond the cap wait here in arrival order until an
// execution ends. A waiting task stays pending on the server, so if it waits past the retry interval
// another worker may take it first; the late local attempt then gets a 409 and is dropped. (On the
// `resonate` schema, StoreNetwork caps at the source instead: it takes no more than it may run.)
import type { Message, Network, Request, Response } from "@resonatehq/sdk";
import { Executions, releasedHere } from "./store/executions.ts";

export class CappedNetwork implements Network {
  private readonly inner: Network;
  private readonly max: number;
  private readonly executions: Executions;
  private readonly waiting: Message[] = [];
  private receive: ((msg: Message) => void) | undefined;

  constructor(inner: Network, max: number) {
    this.inner = inner;
    this.max = max;
    this.executions = new Executions(() => this.pump());
  }

  get unicast(): string {
    return this.inner.unicast;
  }

  get anycast(): string {
    return this.inner.anycast;
  }

  match(target: string): string {
    return this.inner.match(target);
  }

  init(): Promise<void> {
    return this.inner.init();
  }

  stop(): Promise<void> {
    return this.inner.stop();
  }

  send = (async (req: Request): Promise<Response> => {
    // As on the `resonate` schema: a task the SDK gave up before running any of it is left to its
    // lease rather than offered again at once (see Executions.givesUpUnstarted).
    if (req.kind === "task.release" && this.executions.givesUpUnstarted(req)) return releasedHere(req);
    const outcome = this.executions.track(req);
    try {
      const res = await this.inner.send(req);
      outcome(res);
      return res;
    } catch (err) {
      outcome(undefined);
      throw err;
    }
  }) as Network["send"];

  recv(callback: (msg: Message) => void): void {
    this.receive = callback;
    this.inner.recv((msg) => {
      if (msg.kind !== "execute") return callback(msg);
      this.waiting.push(msg);
      this.pump();
    });
  }

  /** Executions in this process, including acquires still in flight. */
  active(): number {
    return this.executions.active();
  }

  /** Execute messages waiting for a slot. */
  queued(): number {
    return this.waiting.length;
  }

  private pump(): void {
    while (this.receive && this.waiting.length > 0 && this.executions.slotsUsed() < this.max) {
      const msg = this.waiting.shift() as Extract<Message, { kind: "execute" }>;
      this.executions.deliver(msg.data.task.id);
      this.receive(msg);
    }
  }
}
