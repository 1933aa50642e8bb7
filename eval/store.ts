/**
 * An append-only JSON Lines file of records, keyed, that survives
 * interruption: each record is one line written in one call, so a run killed
 * mid-write leaves at most one partial last line, which reopening drops. A
 * rerun reads the keys it has and skips them, so no record is written twice.
 *
 * @packageDocumentation
 */
import { appendFileSync, existsSync, readFileSync, truncateSync } from 'node:fs';

/** Anything stored needs a unique key. */
export interface Keyed {
  key: string;
}

export class JsonlStore<T extends Keyed> {
  readonly path: string;
  readonly #records = new Map<string, T>();

  /** Opens (or prepares to create) `path`, reading the records already there. */
  constructor(path: string) {
    this.path = path;
    if (!existsSync(path)) return;
    const text = readFileSync(path, 'utf8');
    let complete = 0;  // bytes up to the end of the last whole line
    for (const line of text.split('\n')) {
      const end = complete + Buffer.byteLength(line) + 1;
      if (end > Buffer.byteLength(text)) break;  // the last piece has no newline: an interrupted write
      complete = end;
      if (line.trim() === '') continue;
      const record = JSON.parse(line) as T;
      this.#records.set(record.key, record);
    }
    if (complete < Buffer.byteLength(text)) truncateSync(path, complete);
  }

  has(key: string): boolean {
    return this.#records.has(key);
  }

  get(key: string): T | undefined {
    return this.#records.get(key);
  }

  /** Every record, in the order written. */
  all(): T[] {
    return [...this.#records.values()];
  }

  get size(): number {
    return this.#records.size;
  }

  /** Writes one record (ignored if its key is already stored). */
  append(record: T): void {
    if (this.#records.has(record.key)) return;
    appendFileSync(this.path, `${JSON.stringify(record)}\n`);
    this.#records.set(record.key, record);
  }
}
