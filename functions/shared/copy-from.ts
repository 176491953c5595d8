// COPY ... FROM STDIN through node-postgres without another dependency: pg hands a query object with a
// `submit` method the connection, and this one sends the statement and its data in one write. The
// server reads the data once it has entered COPY mode; if the statement fails first, the protocol
// has it drop the CopyData and CopyDone that follow, so the connection stays usable.
import { Buffer } from "node:buffer";
import type pg from "pg";

type Cell = string | number | null;

interface Connection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
}

class CopyFrom {
  private error: Error | undefined;
  private rowCount = 0;
  private readonly text: string;
  private readonly data: Buffer;
  readonly callback: (err: Error | undefined, rows: number) => void;

  constructor(text: string, data: Buffer, callback: (err: Error | undefined, rows: number) => void) {
    this.text = text;
    this.data = data;
    this.callback = callback;
  }

  submit(connection: Connection): void {
    connection.query(this.text);
    if (this.data.length > 0) connection.sendCopyFromChunk(this.data);
    connection.endCopyFrom();
  }

  handleCopyInResponse(): void {}

  handleCommandComplete(msg: { text: string }): void {
    this.rowCount = Number(/^COPY (\d+)/.exec(msg.text)?.[1] ?? 0);
  }

  handleError(err: Error): void {
    this.error = err;
  }

  handleReadyForQuery(): void {
    this.callback(this.error, this.rowCount);
  }

  // COPY FROM sends no rows; these keep pg's dispatch happy should the server answer oddly.
  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyData(): void {}
}

/** Runs `copy <table> (...) from stdin` (text format) with `data`; resolves with the rows copied. */
export function copyFrom(client: pg.ClientBase, statement: string, data: Buffer | string): Promise<number> {
  return new Promise((resolve, reject) => {
    const q = new CopyFrom(statement, typeof data === "string" ? Buffer.from(data) : data, (err, rows) =>
      err ? reject(err) : resolve(rows),
    );
    (client as unknown as { query(q: CopyFrom): void }).query(q);
  });
}

// Text format: tab between columns, newline after each row, \N for null; backslash, tab, newline and
// carriage return escaped. Most values need no escaping, so they are tested before being rewritten.
const SPECIAL = /[\\\t\n\r]/;
const ESCAPES: Record<string, string> = { "\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r" };

function cell(v: Cell): string {
  if (v === null) return "\\N";
  const s = typeof v === "number" ? String(v) : v;
  return SPECIAL.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => ESCAPES[c]!) : s;
}

/** Rows as COPY text-format data. */
export function copyText(rows: Iterable<readonly Cell[]>): string {
  let out = "";
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) out += (i === 0 ? "" : "\t") + cell(row[i]!);
    out += "\n";
  }
  return out;
}
