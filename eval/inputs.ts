/**
 * The evaluation's inputs: question sets (any JSON array of
 * `{ index, question }`, like the paper's four) and preferences (the
 * built-in sets of preference-sets.ts, or custom texts).
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { AmuletError } from '../lib/index';

/** One question of a set. */
export interface EvalQuestion {
  /** The set's name: its file name without `.json`. */
  set: string;
  index: number;
  question: string;
}

/** A preference to evaluate: a short name (report columns, proxies), the text given to the model, and its set. */
export interface EvalPreference {
  name: string;
  text: string;
  /** The built-in set it belongs to (`paper`, `extended`), or `custom` for a preference file's. */
  set: string;
}

function invalid(message: string): AmuletError {
  return new AmuletError('ERR_INVALID_OPTION', message);
}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw invalid(`cannot read the ${what} file ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw invalid(`the ${what} file ${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** The first `limit` questions (all when undefined) of a JSON array of `{ index, question }`. */
export function loadQuestions(path: string, limit?: number): EvalQuestion[] {
  const records = readJson(path, 'questions');
  if (!Array.isArray(records)) throw invalid(`${path} must hold a JSON array of { index, question }`);
  const set = basename(path, extname(path));
  return records.slice(0, limit).map((record: unknown, position) => {
    const { index, question } = (record ?? {}) as { index?: unknown; question?: unknown };
    if (!Number.isInteger(index) || typeof question !== 'string' || question.trim() === '') {
      throw invalid(`${path}[${position}] must be { index: integer, question: non-empty string }`);
    }
    return { set, index: index as number, question };
  });
}

/** The paper's preference file: a sentence template and the adjectives. */
interface PaperPreferenceFile {
  template: string;
  preferences: { name: string; adjective: string }[];
}

/**
 * Reads preferences from JSON: either the paper's file (`template` with
 * `{adjective}` and `preferences: [{ name, adjective }]`) or a plain array
 * of `{ name, text }`.
 */
export function loadPreferences(path: string): EvalPreference[] {
  const data = readJson(path, 'preferences');
  let preferences: EvalPreference[];
  if (Array.isArray(data)) {
    preferences = data.map((entry: unknown, position) => {
      const { name, text } = (entry ?? {}) as { name?: unknown; text?: unknown };
      if (typeof name !== 'string' || typeof text !== 'string' || name.trim() === '' || text.trim() === '') {
        throw invalid(`${path}[${position}] must be { name: string, text: string }`);
      }
      return { name: name.trim(), text, set: 'custom' };
    });
  } else {
    const file = data as Partial<PaperPreferenceFile>;
    if (typeof file?.template !== 'string' || !Array.isArray(file.preferences)) {
      throw invalid(`${path} must be an array of { name, text } or { template, preferences: [{ name, adjective }] }`);
    }
    preferences = file.preferences.map(({ name, adjective }) => ({
      name,
      text: file.template!.replace('{adjective}', adjective),
      set: 'custom',
    }));
  }
  const names = new Set<string>();
  for (const { name } of preferences) {
    if (names.has(name)) throw invalid(`${path} names the preference "${name}" twice`);
    names.add(name);
  }
  return preferences;
}

/** The preferences named in `names`, in that order; throws on a name `available` lacks. */
export function selectPreferences(available: readonly EvalPreference[], names: readonly string[]): EvalPreference[] {
  return names.map((name) => {
    const found = available.find((preference) => preference.name === name);
    if (!found) {
      throw invalid(`unknown preference "${name}" (known: ${available.map((preference) => preference.name).join(', ')})`);
    }
    return found;
  });
}
