// Writes that run while the next chunk is read, one at a time per connection: the next waits for the
// one before it, so memory holds at most the write in flight and the one being gathered. A failure is
// taken up when the next write or drain() awaits it; until then it must not count as an unhandled
// rejection, which would stop the worker.
export function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

export class OneInFlight {
  private last: Promise<unknown> = Promise.resolve();

  /** Waits for the write before, then starts this one without waiting for it. */
  async start(write: () => Promise<unknown>): Promise<void> {
    await this.last;
    this.last = handled(write());
  }

  async drain(): Promise<void> {
    await this.last;
  }
}
