/**
 * An append-only JSON Lines file of records, keyed, that survives
 * interruption: each record is one line written in one call, so a run killed
 * mid-write leaves at most one partial last line, which reopening drops. A
 * rerun reads the keys it has and skips them, so no record is written twice.
 *
 * @packageDocumentation
 */
import { appendFileSync, existsSync, readFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';

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

  /**
   * Replaces stored records by key (fields filled in later, e.g. a score),
   * rewriting the file through a temporary file and a rename, so that an
   * interruption leaves the old file or the new one. Keys not stored are
   * ignored. Not safe while another process appends to the same file.
   */
  update(records: readonly T[]): void {
    const changed = records.filter((record) => this.#records.has(record.key));
    if (changed.length === 0) return;
    for (const record of changed) this.#records.set(record.key, record);
    const temporary = `${this.path}.tmp`;
    writeFileSync(temporary, [...this.#records.values()].map((record) => `${JSON.stringify(record)}\n`).join(''));
    renameSync(temporary, this.path);
  }

  /** Writes one record (ignored if its key is already stored). */
  append(record: T): void {
    if (this.#records.has(record.key)) return;
    appendFileSync(this.path, `${JSON.stringify(record)}\n`);
    this.#records.set(record.key, record);
  }
}
