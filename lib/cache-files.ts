/**
 * Helpers for files in amulet-llm's on-disk model cache, shared by the
 * fixture models and the model downloader: where the cache is, temporary
 * names for atomic renames, and cheap facts about files.
 *
 * The cache is assumed to be used from this machine only: a temporary file
 * carries its writer's pid, and a process on another host sharing the cache
 * would look dead.
 *
 * @packageDocumentation
 */

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** Reads an environment variable, treating an empty value as unset. */
export function environmentValue(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value === '' ? undefined : value;
}

/**
 * The folder where models are cached: `$AMULET_MODELS_DIR` if set,
 * else `$AMULET_CACHE_DIR/models`, else `~/.cache/amulet-llm/models`.
 */
export function defaultModelCacheDir(): string {
  const modelsDir = environmentValue('AMULET_MODELS_DIR');
  if (modelsDir !== undefined) return resolve(modelsDir);
  const cacheDir = environmentValue('AMULET_CACHE_DIR');
  if (cacheDir !== undefined) return resolve(cacheDir, 'models');
  return join(homedir(), '.cache', 'amulet-llm', 'models');
}

/** A fresh path next to `finalPath` for writing before an atomic rename; the pid tells whose it is. */
export function temporaryPathFor(finalPath: string): string {
  return `${finalPath}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
}

/** Matches names made by {@link temporaryPathFor}, capturing the pid of the process that made them. */
const TEMPORARY_NAME_PATTERN = /\.(\d+)-[0-9a-f]{8}\.tmp$/;

/**
 * Whether a process with this pid exists on this machine (EPERM means it
 * exists but belongs to another user).
 */
export function isProcessAlive(pid: number): boolean {
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
export async function removeAbandonedTemporaries(folder: string): Promise<void> {
  for (const name of await readdir(folder)) {
    const match = TEMPORARY_NAME_PATTERN.exec(name);
    if (match !== null && !isProcessAlive(Number(match[1]))) {
      await rm(join(folder, name), { recursive: true, force: true });
    }
  }
}

/** Computes the sha256 of a file, streaming it. */
export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
  }
  return hash.digest('hex');
}

/** Size and modification time of a file, or undefined if it does not exist. */
export async function statIfExists(path: string): Promise<{ size: number; mtimeMs: number } | undefined> {
  try {
    const { size, mtimeMs } = await stat(path);
    return { size, mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Writes `text` to `path` through a temporary file, so readers see the old or the new content, never a mix. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const temporaryPath = temporaryPathFor(path);
  try {
    await writeFile(temporaryPath, text);
    await rename(temporaryPath, path);
  } catch (error) {
    await rm(temporaryPath, { force: true });
    throw error;
  }
}
