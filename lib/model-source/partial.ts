/**
 * Partial downloads: the folder next to a file's final name that holds the
 * bytes received so far and what they are part of, so that a later call, or
 * a later process, can resume them.
 *
 * Each writer owns its own folder, named after its pid and thread, so two
 * processes fetching the same file never write to the same bytes; each
 * finishes its own copy and renames identical content into place. A folder
 * whose writer is gone (the pid is dead, or it is this thread's and no call
 * is writing it) is taken over by renaming it, which only one claimant can
 * win. As for the rest of the cache, the processes are assumed to run on one
 * machine.
 *
 * @packageDocumentation
 */

import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { isProcessAlive, statIfExists, writeFileAtomic } from '../cache-files';

/** What the bytes of a partial download belong to, as far as the servers said. */
export interface PartialIdentity {
  /** sha256 of the whole file, lowercase hex. */
  readonly sha256?: string;
  /** Size of the whole file in bytes. */
  readonly size?: number;
  /** The final server's strong `ETag`. */
  readonly etag?: string;
}

/** A partial download this thread owns until {@link PartialDownload.release}. */
export interface PartialDownload {
  /** The folder, next to the final file. */
  readonly dir: string;
  /** The bytes received so far. */
  readonly dataPath: string;
  /** Size of {@link PartialDownload.dataPath} when it was claimed (0 for a new one). */
  readonly claimedBytes: number;
  /** What the bytes belong to, as recorded by whoever wrote them. */
  readIdentity(): Promise<PartialIdentity>;
  /** Records what the bytes belong to. */
  writeIdentity(identity: PartialIdentity): Promise<void>;
  /** Stops owning the folder, leaving it for a later call to resume. */
  release(): void;
  /** Deletes the folder and stops owning it. */
  discard(): Promise<void>;
}

/** Folders this thread is writing right now; any other of its own is left over from an earlier call. */
const foldersInUse = new Set<string>();

/** The part of a folder name after `<final name>.`: pid, thread id, random tag. */
const PARTIAL_SUFFIX_PATTERN = /^(\d+)-(\d+)-[0-9a-f]{8}\.partial$/;

const IDENTITY_FILE = 'source.json';

/** Whether nobody is writing the partial download whose name has this pid and thread id. */
function isAbandoned(path: string, pid: number, thread: number): boolean {
  if (pid !== process.pid) return !isProcessAlive(pid);
  // Another thread of this process may be writing it; it is left to a later process.
  return thread === threadId && !foldersInUse.has(path);
}

/** The abandoned partial downloads of `finalPath`, largest first. */
async function abandonedPartials(finalPath: string): Promise<string[]> {
  const folder = dirname(finalPath);
  const prefix = `${basename(finalPath)}.`;
  const found: { path: string; bytes: number }[] = [];
  for (const name of await readdir(folder)) {
    if (!name.startsWith(prefix)) continue;
    const match = PARTIAL_SUFFIX_PATTERN.exec(name.slice(prefix.length));
    const path = join(folder, name);
    if (match === null || !isAbandoned(path, Number(match[1]), Number(match[2]))) continue;
    found.push({ path, bytes: (await statIfExists(join(path, 'data')))?.size ?? 0 });
  }
  return found.sort((a, b) => b.bytes - a.bytes).map((entry) => entry.path);
}

/** The well-typed fields of a parsed identity record; anything else in it is ignored. */
function identityFrom(parsed: unknown): PartialIdentity {
  if (parsed === null || typeof parsed !== 'object') return {};
  const record = parsed as Record<string, unknown>;
  return {
    ...(typeof record.sha256 === 'string' ? { sha256: record.sha256 } : {}),
    ...(typeof record.size === 'number' ? { size: record.size } : {}),
    ...(typeof record.etag === 'string' ? { etag: record.etag } : {}),
  };
}

/**
 * Takes over the largest abandoned partial download of `finalPath`, deleting
 * the other abandoned ones, or starts a new one. The folder of `finalPath`
 * is created if needed.
 */
export async function claimPartialDownload(finalPath: string): Promise<PartialDownload> {
  await mkdir(dirname(finalPath), { recursive: true });
  const dir = `${finalPath}.${process.pid}-${threadId}-${randomBytes(4).toString('hex')}.partial`;
  let adopted = false;
  for (const candidate of await abandonedPartials(finalPath)) {
    if (!adopted) {
      try {
        await rename(candidate, dir);
        adopted = true;
        continue;
      } catch {
        // Another process took it first; try the next one.
      }
    }
    await rm(candidate, { recursive: true, force: true });
  }
  if (!adopted) await mkdir(dir);
  foldersInUse.add(dir);
  const dataPath = join(dir, 'data');
  const identityPath = join(dir, IDENTITY_FILE);
  return {
    dir,
    dataPath,
    claimedBytes: (await statIfExists(dataPath))?.size ?? 0,
    async readIdentity(): Promise<PartialIdentity> {
      try {
        return identityFrom(JSON.parse(await readFile(identityPath, 'utf8')));
      } catch {
        // No record (or a broken one) says nothing about the bytes.
        return {};
      }
    },
    async writeIdentity(identity: PartialIdentity): Promise<void> {
      await writeFileAtomic(identityPath, `${JSON.stringify(identity)}\n`);
    },
    release(): void {
      foldersInUse.delete(dir);
    },
    async discard(): Promise<void> {
      foldersInUse.delete(dir);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
