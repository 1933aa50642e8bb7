/**
 * A small reader for zip archives (such as Python wheels), built on Node
 * built-ins only.
 *
 * It reads the End Of Central Directory record, then the central directory,
 * and streams a member's data from its local header through `zlib` when the
 * member is deflated, checking the member's size and CRC-32 on the way. Only
 * what wheels need is supported: stored (method 0) and deflated (method 8)
 * members in a single-disk, non-Zip64, unencrypted archive. Anything else is
 * refused with an error that names the archive and the reason.
 *
 * The reader never derives output paths from member names, so a hostile
 * archive cannot write outside the destination a caller picks.
 *
 * @packageDocumentation
 */

import { open, type FileHandle } from 'node:fs/promises';
import { Readable, Transform, pipeline, type TransformCallback } from 'node:stream';
import { createInflateRaw } from 'node:zlib';

/** One member of a zip archive, as its central directory describes it. */
export interface ZipEntry {
  /** Path of the member inside the archive, `/`-separated; directories end in `/`. */
  readonly name: string;
  /** Compression method: 0 (stored) and 8 (deflate) can be read. */
  readonly compressionMethod: number;
  /** General purpose bit flags of the member. */
  readonly flags: number;
  /** CRC-32 of the uncompressed data. */
  readonly crc32: number;
  /** Size of the member's data as stored in the archive, in bytes. */
  readonly compressedSize: number;
  /** Size of the member's data once decompressed, in bytes. */
  readonly uncompressedSize: number;
  /** Offset of the member's local file header from the start of the archive. */
  readonly localHeaderOffset: number;
}

/** Compression method of a member whose bytes are stored as they are. */
export const ZIP_METHOD_STORED = 0;
/** Compression method of a member compressed with raw deflate. */
export const ZIP_METHOD_DEFLATE = 8;

const END_OF_CENTRAL_DIRECTORY_SIGNATURE = 0x06054b50;
const END_OF_CENTRAL_DIRECTORY_SIZE = 22;
const ZIP64_END_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_END_LOCATOR_SIZE = 20;
const CENTRAL_DIRECTORY_HEADER_SIGNATURE = 0x02014b50;
const CENTRAL_DIRECTORY_HEADER_SIZE = 46;
const LOCAL_FILE_HEADER_SIGNATURE = 0x04034b50;
const LOCAL_FILE_HEADER_SIZE = 30;
/** The archive comment that trails the EOCD record is at most this long. */
const MAX_ARCHIVE_COMMENT_LENGTH = 0xffff;
/** A 16- or 32-bit field holding all ones means "the real value is in the Zip64 records". */
const ZIP64_MARKER_16 = 0xffff;
const ZIP64_MARKER_32 = 0xffffffff;
const FLAG_ENCRYPTED = 0x0001;

/** CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) lookup table, one entry per byte value. */
const CRC32_TABLE: Int32Array = (() => {
  const table = new Int32Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
    }
    table[byte] = crc;
  }
  return table;
})();

/**
 * Continues a CRC-32 over `data`, starting from the CRC of the bytes before it
 * (0 for none). Written in JavaScript because `zlib.crc32` only exists from
 * Node 20.15 and this package supports all of Node 20; it runs at about
 * 500 MB/s, well under the cost of inflating the data it checks.
 */
function updateCrc32(crc: number, data: Uint8Array): number {
  let value = ~crc;
  for (let index = 0; index < data.length; index++) {
    value = CRC32_TABLE[(value ^ data[index]!) & 0xff]! ^ (value >>> 8);
  }
  return ~value >>> 0;
}

/** Reads exactly `length` bytes at `position`, or throws if the file ends first. */
async function readExactly(file: FileHandle, position: number, length: number, archivePath: string): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) {
      throw new Error(`${archivePath}: zip archive is truncated (wanted ${length} bytes at offset ${position})`);
    }
    filled += bytesRead;
  }
  return buffer;
}

/** Where the central directory lies, as the End Of Central Directory record says. */
interface CentralDirectoryLocation {
  readonly entryCount: number;
  readonly size: number;
  readonly offset: number;
  readonly endRecordOffset: number;
}

/**
 * Finds and decodes the End Of Central Directory record. It sits at the very
 * end of the archive, followed only by a comment of up to 65535 bytes, so the
 * search scans that tail backwards and accepts a signature only where the
 * comment length it declares reaches exactly to the end of the file (a
 * signature-like byte run inside the comment cannot satisfy that).
 */
async function readCentralDirectoryLocation(
  file: FileHandle,
  fileSize: number,
  archivePath: string,
): Promise<CentralDirectoryLocation> {
  const tailLength = Math.min(fileSize, END_OF_CENTRAL_DIRECTORY_SIZE + MAX_ARCHIVE_COMMENT_LENGTH);
  const tailOffset = fileSize - tailLength;
  const tail = await readExactly(file, tailOffset, tailLength, archivePath);
  for (let index = tailLength - END_OF_CENTRAL_DIRECTORY_SIZE; index >= 0; index--) {
    if (tail.readUInt32LE(index) !== END_OF_CENTRAL_DIRECTORY_SIGNATURE) continue;
    const commentLength = tail.readUInt16LE(index + 20);
    if (index + END_OF_CENTRAL_DIRECTORY_SIZE + commentLength !== tailLength) continue;

    const diskNumber = tail.readUInt16LE(index + 4);
    const centralDirectoryDisk = tail.readUInt16LE(index + 6);
    const entriesOnThisDisk = tail.readUInt16LE(index + 8);
    const entryCount = tail.readUInt16LE(index + 10);
    const size = tail.readUInt32LE(index + 12);
    const offset = tail.readUInt32LE(index + 16);
    const precededByZip64Locator =
      index >= ZIP64_END_LOCATOR_SIZE &&
      tail.readUInt32LE(index - ZIP64_END_LOCATOR_SIZE) === ZIP64_END_LOCATOR_SIGNATURE;
    if (
      precededByZip64Locator ||
      entryCount === ZIP64_MARKER_16 ||
      size === ZIP64_MARKER_32 ||
      offset === ZIP64_MARKER_32
    ) {
      throw new Error(`${archivePath}: Zip64 archives are not supported`);
    }
    if (diskNumber !== 0 || centralDirectoryDisk !== 0 || entriesOnThisDisk !== entryCount) {
      throw new Error(`${archivePath}: multi-disk (split) zip archives are not supported`);
    }
    const endRecordOffset = tailOffset + index;
    if (offset + size > endRecordOffset) {
      throw new Error(`${archivePath}: zip central directory lies outside the archive (corrupt file?)`);
    }
    return { entryCount, size, offset, endRecordOffset };
  }
  throw new Error(`${archivePath}: not a zip archive (no End Of Central Directory record found)`);
}

/**
 * Member names are UTF-8 when flag bit 11 is set and CP437 otherwise; wheel
 * builders leave the flag off only for pure-ASCII names, where both encodings
 * agree, so UTF-8 decoding serves both cases here.
 */
function decodeEntryName(bytes: Buffer): string {
  return bytes.toString('utf8');
}

/** Decodes every central directory header into a {@link ZipEntry}. */
function parseCentralDirectory(directory: Buffer, entryCount: number, archivePath: string): ZipEntry[] {
  const entries: ZipEntry[] = [];
  let position = 0;
  for (let index = 0; index < entryCount; index++) {
    if (
      position + CENTRAL_DIRECTORY_HEADER_SIZE > directory.length ||
      directory.readUInt32LE(position) !== CENTRAL_DIRECTORY_HEADER_SIGNATURE
    ) {
      throw new Error(`${archivePath}: zip central directory entry ${index} is malformed (corrupt file?)`);
    }
    const flags = directory.readUInt16LE(position + 8);
    const compressionMethod = directory.readUInt16LE(position + 10);
    const crc32 = directory.readUInt32LE(position + 16);
    const compressedSize = directory.readUInt32LE(position + 20);
    const uncompressedSize = directory.readUInt32LE(position + 24);
    const nameLength = directory.readUInt16LE(position + 28);
    const extraLength = directory.readUInt16LE(position + 30);
    const commentLength = directory.readUInt16LE(position + 32);
    const localHeaderOffset = directory.readUInt32LE(position + 42);
    const nameStart = position + CENTRAL_DIRECTORY_HEADER_SIZE;
    const recordEnd = nameStart + nameLength + extraLength + commentLength;
    if (recordEnd > directory.length) {
      throw new Error(`${archivePath}: zip central directory entry ${index} is truncated (corrupt file?)`);
    }
    const name = decodeEntryName(directory.subarray(nameStart, nameStart + nameLength));
    if (
      compressedSize === ZIP64_MARKER_32 ||
      uncompressedSize === ZIP64_MARKER_32 ||
      localHeaderOffset === ZIP64_MARKER_32
    ) {
      throw new Error(`${archivePath}: member ${name} uses Zip64 fields, which are not supported`);
    }
    entries.push({ name, compressionMethod, flags, crc32, compressedSize, uncompressedSize, localHeaderOffset });
    position = recordEnd;
  }
  return entries;
}

/**
 * Passes a member's decompressed bytes through unchanged while counting them
 * and computing their CRC-32, and fails the stream as soon as the data runs
 * past the declared size or, at its end, differs from the declared size or
 * CRC. This is what catches a corrupted or truncated member.
 */
class MemberIntegrityCheck extends Transform {
  private crc = 0;
  private byteCount = 0;

  constructor(
    private readonly entry: ZipEntry,
    private readonly archivePath: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.byteCount += chunk.length;
    if (this.byteCount > this.entry.uncompressedSize) {
      callback(this.failure(`decompresses to more than its declared ${this.entry.uncompressedSize} bytes`));
      return;
    }
    this.crc = updateCrc32(this.crc, chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.byteCount !== this.entry.uncompressedSize) {
      callback(this.failure(`has ${this.byteCount} bytes, but its header declares ${this.entry.uncompressedSize}`));
    } else if (this.crc !== this.entry.crc32) {
      callback(
        this.failure(
          `fails its CRC-32 check (computed ${this.crc.toString(16).padStart(8, '0')}, ` +
            `expected ${this.entry.crc32.toString(16).padStart(8, '0')})`,
        ),
      );
    } else {
      callback();
    }
  }

  private failure(reason: string): Error {
    return new Error(`${this.archivePath}: member ${this.entry.name} ${reason} (corrupt archive?)`);
  }
}

/**
 * An open zip archive. Open one with {@link ZipArchive.open}, look members up
 * with {@link ZipArchive.getEntry}, stream them with
 * {@link ZipArchive.openEntryStream}, and {@link ZipArchive.close} it when
 * done (after the entry streams have finished).
 */
export class ZipArchive {
  private readonly entriesByName: ReadonlyMap<string, ZipEntry>;

  private constructor(
    /** Path the archive was opened from, used in error messages. */
    readonly path: string,
    /** Every member, in central directory order. */
    readonly entries: readonly ZipEntry[],
    private readonly file: FileHandle,
  ) {
    this.entriesByName = new Map(entries.map((entry) => [entry.name, entry]));
  }

  /**
   * Opens the zip archive at `path` and reads its central directory.
   *
   * @throws Error if the file is not a zip archive, is truncated, or uses
   *   Zip64 or multiple disks.
   */
  static async open(path: string): Promise<ZipArchive> {
    const file = await open(path, 'r');
    try {
      const { size: fileSize } = await file.stat();
      const location = await readCentralDirectoryLocation(file, fileSize, path);
      const directory = await readExactly(file, location.offset, location.size, path);
      const entries = parseCentralDirectory(directory, location.entryCount, path);
      return new ZipArchive(path, entries, file);
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  /** Returns the member called `name` (exact, case-sensitive match), if there is one. */
  getEntry(name: string): ZipEntry | undefined {
    return this.entriesByName.get(name);
  }

  /**
   * Returns a stream of the member's decompressed bytes. The stream fails with
   * an error if the data is corrupt: wrong size, wrong CRC-32, or invalid
   * deflate data. Memory use stays at a few buffers whatever the member size.
   *
   * @throws Error if the member is encrypted, uses a compression method other
   *   than stored or deflate, or its local header is malformed.
   */
  async openEntryStream(entry: ZipEntry): Promise<Readable> {
    if (entry.flags & FLAG_ENCRYPTED) {
      throw new Error(`${this.path}: member ${entry.name} is encrypted, which is not supported`);
    }
    if (entry.compressionMethod !== ZIP_METHOD_STORED && entry.compressionMethod !== ZIP_METHOD_DEFLATE) {
      throw new Error(
        `${this.path}: member ${entry.name} uses compression method ${entry.compressionMethod}; ` +
          'only stored (0) and deflate (8) are supported',
      );
    }
    const dataOffset = await this.locateEntryData(entry);
    const integrityCheck = new MemberIntegrityCheck(entry, this.path);
    // A zero-length range cannot be expressed as a read stream's inclusive
    // [start, end], so an empty stored member gets an empty source instead.
    const compressedBytes =
      entry.compressedSize === 0
        ? Readable.from([])
        : this.file.createReadStream({
            start: dataOffset,
            end: dataOffset + entry.compressedSize - 1,
            // The archive owns the file handle and closes it in close().
            autoClose: false,
          });
    // pipeline() destroys every stage with the first error, so a failure in
    // any stage (read, inflate, integrity check) surfaces on the returned
    // stream and the consumer sees it; the callback has nothing left to do.
    const ignoreHandledError = (): void => {};
    if (entry.compressionMethod === ZIP_METHOD_STORED) {
      return pipeline(compressedBytes, integrityCheck, ignoreHandledError);
    }
    const inflater = createInflateRaw();
    // zlib's messages ("invalid distance too far back") do not say what was
    // being read. This listener is registered before pipeline()'s own, so the
    // error already names the archive and member when it is passed on.
    inflater.once('error', (error) => {
      error.message = `${this.path}: member ${entry.name} has invalid deflate data: ${error.message} (corrupt archive?)`;
    });
    return pipeline(compressedBytes, inflater, integrityCheck, ignoreHandledError);
  }

  /** Closes the underlying file. Entry streams must not be read afterwards. */
  async close(): Promise<void> {
    await this.file.close();
  }

  /**
   * Reads the member's local header and returns where its data begins. The
   * local header's name and extra field lengths can differ from the central
   * directory's, so the data offset must come from the local header itself.
   */
  private async locateEntryData(entry: ZipEntry): Promise<number> {
    const header = await readExactly(this.file, entry.localHeaderOffset, LOCAL_FILE_HEADER_SIZE, this.path);
    if (header.readUInt32LE(0) !== LOCAL_FILE_HEADER_SIGNATURE) {
      throw new Error(`${this.path}: member ${entry.name} has no valid local file header (corrupt archive?)`);
    }
    const nameLength = header.readUInt16LE(26);
    const extraLength = header.readUInt16LE(28);
    const localName = await readExactly(this.file, entry.localHeaderOffset + LOCAL_FILE_HEADER_SIZE, nameLength, this.path);
    if (decodeEntryName(localName) !== entry.name) {
      throw new Error(
        `${this.path}: member ${entry.name}'s local header names it ${decodeEntryName(localName)} (corrupt archive?)`,
      );
    }
    return entry.localHeaderOffset + LOCAL_FILE_HEADER_SIZE + nameLength + extraLength;
  }
}
