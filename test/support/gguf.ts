/**
 * Rewrites one string of a GGUF file's metadata (e.g. its
 * `tokenizer.chat_template`), so that a test can run a real model under
 * metadata of its choosing. The layout follows the GGUF specification
 * (ggml's docs/gguf.md): a header, the metadata key-value pairs, the tensor
 * infos, padding to `general.alignment` (default 32), then the tensor data,
 * whose offsets are relative to the start of that section and so survive a
 * header of another length.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';

const MAGIC = 'GGUF';
const DEFAULT_ALIGNMENT = 32;
const ALIGNMENT_KEY = 'general.alignment';

/** GGUF metadata value types. */
enum ValueType {
  Uint8 = 0, Int8 = 1, Uint16 = 2, Int16 = 3, Uint32 = 4, Int32 = 5, Float32 = 6, Bool = 7, String = 8, Array = 9,
  Uint64 = 10, Int64 = 11, Float64 = 12,
}

/** Bytes of each fixed-size value type. */
const FIXED_SIZES: Partial<Record<ValueType, number>> = {
  [ValueType.Uint8]: 1, [ValueType.Int8]: 1, [ValueType.Bool]: 1, [ValueType.Uint16]: 2, [ValueType.Int16]: 2,
  [ValueType.Uint32]: 4, [ValueType.Int32]: 4, [ValueType.Float32]: 4, [ValueType.Uint64]: 8, [ValueType.Int64]: 8,
  [ValueType.Float64]: 8,
};

/** Thrown when the part of the file read so far ends inside the header. */
class NeedMoreBytes extends Error {}

/** Reads the header off a prefix of the file. */
class HeaderReader {
  offset = 0;
  constructor(private readonly buffer: Buffer) {}

  private need(bytes: number): void {
    if (this.offset + bytes > this.buffer.length) throw new NeedMoreBytes();
  }

  uint32(): number {
    this.need(4);
    const value = this.buffer.readUInt32LE(this.offset);
    this.offset += 4;
    return value;
  }

  uint64(): number {
    this.need(8);
    const value = this.buffer.readBigUInt64LE(this.offset);
    this.offset += 8;
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error('GGUF: a count beyond 2^53');
    return Number(value);
  }

  string(): string {
    const length = this.uint64();
    this.need(length);
    const value = this.buffer.toString('utf8', this.offset, this.offset + length);
    this.offset += length;
    return value;
  }

  skip(bytes: number): void {
    this.need(bytes);
    this.offset += bytes;
  }

  /** Skips a value of `type`, returning it when it is a number or a string. */
  value(type: ValueType): number | string | undefined {
    if (type === ValueType.String) return this.string();
    if (type === ValueType.Uint32) return this.uint32();
    if (type === ValueType.Array) {
      const elementType = this.uint32() as ValueType;
      const count = this.uint64();
      const size = FIXED_SIZES[elementType];
      if (size !== undefined) this.skip(size * count);
      else for (let i = 0; i < count; i++) this.value(elementType);
      return undefined;
    }
    const size = FIXED_SIZES[type];
    if (size === undefined) throw new Error(`GGUF: unknown value type ${type}`);
    this.skip(size);
    return undefined;
  }
}

/** Where the parts of a GGUF file lie. */
interface GgufLayout {
  version: number;
  tensorCount: number;
  /** Each metadata pair's bytes [start, end) and key. */
  pairs: { key: string; start: number; end: number }[];
  /** The tensor infos' bytes [start, end). */
  tensorInfos: { start: number; end: number };
  alignment: number;
  /** Where the tensor data starts. */
  dataOffset: number;
}

function parseLayout(buffer: Buffer): GgufLayout {
  const reader = new HeaderReader(buffer);
  reader.skip(4);
  if (buffer.toString('latin1', 0, 4) !== MAGIC) throw new Error('not a GGUF file');
  const version = reader.uint32();
  if (version < 2) throw new Error(`GGUF version ${version} is not supported`);
  const tensorCount = reader.uint64();
  const pairCount = reader.uint64();
  const pairs: GgufLayout['pairs'] = [];
  let alignment = DEFAULT_ALIGNMENT;
  for (let i = 0; i < pairCount; i++) {
    const start = reader.offset;
    const key = reader.string();
    const value = reader.value(reader.uint32() as ValueType);
    if (key === ALIGNMENT_KEY && typeof value === 'number') alignment = value;
    pairs.push({ key, start, end: reader.offset });
  }
  const infosStart = reader.offset;
  for (let i = 0; i < tensorCount; i++) {
    reader.string();
    reader.skip(8 * reader.uint32() + 4 + 8);  // dimensions, type, offset
  }
  const infosEnd = reader.offset;
  return {
    version, tensorCount, pairs, tensorInfos: { start: infosStart, end: infosEnd }, alignment,
    dataOffset: alignUp(infosEnd, alignment),
  };
}

function alignUp(offset: number, alignment: number): number {
  return Math.ceil(offset / alignment) * alignment;
}

/** Reads just enough of the file to hold its header. */
async function readLayout(path: string): Promise<{ layout: GgufLayout; header: Buffer }> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    for (let length = Math.min(size, 1 << 22); ; length = Math.min(size, length * 2)) {
      const { buffer, bytesRead } = await file.read(Buffer.alloc(length), 0, length, 0);
      const header = buffer.subarray(0, bytesRead);
      try {
        return { layout: parseLayout(header), header };
      } catch (error) {
        if (!(error instanceof NeedMoreBytes) || length === size) throw error;
      }
    }
  } finally {
    await file.close();
  }
}

function ggufString(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(bytes.length));
  return Buffer.concat([length, bytes]);
}

function uint32(value: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(value);
  return bytes;
}

function uint64(value: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(BigInt(value));
  return bytes;
}

/** The metadata strings of a GGUF file, by key (other values are left out). */
export async function readGgufStrings(path: string): Promise<Map<string, string>> {
  const { layout, header } = await readLayout(path);
  const strings = new Map<string, string>();
  for (const pair of layout.pairs) {
    const reader = new HeaderReader(header);
    reader.offset = pair.start;
    const key = reader.string();
    if (reader.uint32() === ValueType.String) strings.set(key, reader.string());
  }
  return strings;
}

/**
 * Copies the GGUF at `source` to `target` with the string `key` set to
 * `value` (added when the file has no such key): the header rewritten, the
 * tensor data copied after padding to the file's alignment.
 */
export async function writeGgufWithString(source: string, target: string, key: string, value: string): Promise<void> {
  const { layout, header } = await readLayout(source);
  const pair = Buffer.concat([ggufString(key), uint32(ValueType.String), ggufString(value)]);
  const kept = layout.pairs.filter((entry) => entry.key !== key).map((entry) => header.subarray(entry.start, entry.end));
  const body = Buffer.concat([
    Buffer.from(MAGIC, 'latin1'), uint32(layout.version), uint64(layout.tensorCount), uint64(kept.length + 1),
    ...kept, pair, header.subarray(layout.tensorInfos.start, layout.tensorInfos.end),
  ]);
  const padded = Buffer.concat([body, Buffer.alloc(alignUp(body.length, layout.alignment) - body.length)]);
  const output = createWriteStream(target);
  await new Promise<void>((resolve, reject) => output.write(padded, (error) => (error ? reject(error) : resolve())));
  await pipeline(createReadStream(source, { start: layout.dataOffset }), output);
}
