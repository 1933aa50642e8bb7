/**
 * Public option types, their defaults, and the validation that turns user
 * input into the fully specified settings the addon receives. Every check
 * throws an {@link AmuletError} with code `ERR_INVALID_OPTION` and a message
 * that names the option and the value it got.
 *
 * @packageDocumentation
 */
import { AmuletError } from './errors';
import { nativeBinding } from './addon';
import type { NativeRealign, NativeSampling } from './addon-types';

/**
 * How the next-token distribution is formed.
 * - `amulet`: the paper's online-learning update in closed form (default).
 * - `amulet-iterative`: the paper's literal K-iteration loop; same distribution, K times the work.
 * - `la`: Linear Alignment, `z_p + ratio * (z_p - z_b)` on raw logits.
 * - `pref`: the prompt with the preference texts, no realignment.
 * - `base`: the prompt without any preference.
 */
export type RealignMethod = 'amulet' | 'amulet-iterative' | 'la' | 'pref' | 'base';

/** Every method, in a stable order. */
export const realignMethods: readonly RealignMethod[] = Object.freeze([
  'amulet',
  'amulet-iterative',
  'la',
  'pref',
  'base',
]);

/**
 * Where the realignment, and the sampling after it, run.
 * - `auto` (default): in the compute graph when the model's logits are on a
 *   GPU (`gpuLayers` above the model's layer count), else on the CPU.
 * - `cpu`: on the host, from the logits llama.cpp copies back each token.
 * - `backend`: in llama.cpp's compute graph, on whichever device holds the
 *   logits (the CPU too), so no vocabulary-sized row is copied per token.
 *
 * The backend path covers `amulet`, `la` and `pref` with greedy or
 * temperature/topK/topP/minP sampling. `amulet-iterative`, `trace`,
 * repetition penalties and more sequences than `batchSize` run on the CPU
 * whatever is asked; {@link GenerationResult.realignedOn} says where a prompt ran.
 */
export type RealignOn = 'auto' | 'cpu' | 'backend';

/** Every {@link RealignOn} value. */
export const realignOnValues: readonly RealignOn[] = Object.freeze(['auto', 'cpu', 'backend']);

/** A {@link RealignOn} value, or the default when undefined. */
export function realignOnOption(value: unknown, fallback: RealignOn): RealignOn {
  if (value === undefined) return fallback;
  if (!realignOnValues.includes(value as RealignOn)) {
    throw invalid(`realignOn must be one of ${realignOnValues.join(', ')} (got ${describe(value)})`);
  }
  return value as RealignOn;
}

/** A user preference, appended to the system prompt of its own sequence. */
export interface Preference {
  /** The preference, e.g. "Your answer should be concise as much as possible." */
  text: string;
  /**
   * How strongly to follow it (default 1). Negative weights steer away from
   * the preference ("avoid"); 0 decodes the sequence without using it.
   */
  weight?: number;
}

/** A preference given as its text (weight 1) or as a {@link Preference}. */
export type PreferenceInput = string | Preference;

/** Realignment hyperparameters; defaults are the paper's. */
export interface RealignOptions {
  /** Default `'amulet'`. */
  method?: RealignMethod;
  /** Reward scale α (default 2). Finite, > 0. */
  alpha?: number;
  /** Weight λ of the proximal term towards the preference policy (default 2). Finite, > 0. */
  lambda?: number;
  /** Learning rate η (default 10). Finite, > 0. */
  eta?: number;
  /** Iterations K of the online update (default 60). Integer in [1, 10000]. */
  iterations?: number;
  /** Ratio r of the `la` method (default 2). Finite, >= 0. */
  ratio?: number;
}

/** Sampling after realignment. The default is greedy decoding, the paper's setting. */
export interface SamplingOptions {
  /** 0 (default) decodes greedily; > 0 samples at this temperature. */
  temperature?: number;
  /** Keep the k most likely tokens (0, the default, keeps all). */
  topK?: number;
  /** Nucleus sampling threshold in (0, 1] (default 1: off). */
  topP?: number;
  /** Minimum probability relative to the top token, in [0, 1) (default 0: off). */
  minP?: number;
  /** Penalty > 0 for repeating recent tokens (default 1: off). */
  repeatPenalty?: number;
  /** How many recent tokens the penalties look at (default 64). */
  repeatLastN?: number;
  /** Penalty proportional to how often a token appeared (default 0). */
  frequencyPenalty?: number;
  /** Penalty for any token that appeared (default 0). */
  presencePenalty?: number;
  /** Seed of the random sampler; an integer in [0, 2^32 - 2] (default: random). */
  seed?: number;
}

/** Defaults of the paper (arXiv 2502.19148) and of this library. */
export const defaults = Object.freeze({
  method: 'amulet' as RealignMethod,
  alpha: 2,
  lambda: 2,
  eta: 10,
  iterations: 60,
  ratio: 2,
  systemPrompt: 'You are a helpful assistant.',
  maxTokens: 256,
  contextSize: 4096,
  batchSize: 512,
});

/** llama.cpp's "pick a random seed" value. */
const RANDOM_SEED = 0xffffffff;

/** Sampling defaults: greedy decoding, every filter and penalty off, a random seed. */
export const samplingDefaults: Readonly<Required<SamplingOptions>> = Object.freeze({
  temperature: 0,
  topK: 0,
  topP: 1,
  minP: 0,
  repeatPenalty: 1,
  repeatLastN: 64,
  frequencyPenalty: 0,
  presencePenalty: 0,
  seed: RANDOM_SEED,
});

function invalid(message: string): AmuletError {
  return new AmuletError('ERR_INVALID_OPTION', message);
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  return typeof value;
}

/** A finite number satisfying `accepts`, or the default when undefined. */
export function numberOption(
  name: string,
  value: unknown,
  fallback: number,
  accepts: (n: number) => boolean,
  requirement: string,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || !accepts(value)) {
    throw invalid(`${name} must be ${requirement} (got ${describe(value)})`);
  }
  return value;
}

/** An integer in [min, max], or the default when undefined. */
export function integerOption(name: string, value: unknown, fallback: number, min: number, max: number): number {
  return numberOption(name, value, fallback, (n) => Number.isInteger(n) && n >= min && n <= max,
    `an integer in [${min}, ${max}]`);
}

/** A boolean, or the default when undefined. */
export function booleanOption(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalid(`${name} must be a boolean (got ${describe(value)})`);
  return value;
}

/** A string (possibly empty), or the default when undefined. */
export function stringOption(name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw invalid(`${name} must be a string (got ${describe(value)})`);
  return value;
}

/** An options object (or undefined, read as empty). */
export function objectOption<T extends object>(name: string, value: T | undefined): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`${name} must be an object (got ${describe(value)})`);
  }
  return value;
}

const positive = (n: number): boolean => n > 0;

/** Fills in and checks realignment options; `base` supplies values not given. */
export function resolveRealign(options: RealignOptions, base?: NativeRealign): NativeRealign {
  const method = options.method === undefined ? (base?.method ?? defaults.method) : options.method;
  if (!realignMethods.includes(method as RealignMethod)) {
    throw invalid(`method must be one of ${realignMethods.join(', ')} (got ${describe(method)})`);
  }
  return {
    method,
    alpha: numberOption('alpha', options.alpha, base?.alpha ?? defaults.alpha, positive, 'a finite number > 0'),
    lambda: numberOption('lambda', options.lambda, base?.lambda ?? defaults.lambda, positive, 'a finite number > 0'),
    eta: numberOption('eta', options.eta, base?.eta ?? defaults.eta, positive, 'a finite number > 0'),
    iterations: integerOption('iterations', options.iterations, base?.iterations ?? defaults.iterations, 1, 10000),
    ratio: numberOption('ratio', options.ratio, base?.ratio ?? defaults.ratio, (n) => n >= 0, 'a finite number >= 0'),
  };
}

/** Fills in and checks sampling options; `base` supplies values not given. */
export function resolveSampling(input: SamplingOptions | undefined, base: NativeSampling = samplingDefaults): NativeSampling {
  const options = objectOption('sampling', input);
  const nonNegative = (n: number): boolean => n >= 0;
  const anyFinite = (): boolean => true;
  return {
    temperature: numberOption('temperature', options.temperature, base.temperature, nonNegative, 'a finite number >= 0'),
    topK: integerOption('topK', options.topK, base.topK, 0, 1_000_000),
    topP: numberOption('topP', options.topP, base.topP, (n) => n > 0 && n <= 1, 'a number in (0, 1]'),
    minP: numberOption('minP', options.minP, base.minP, (n) => n >= 0 && n < 1, 'a number in [0, 1)'),
    repeatPenalty: numberOption('repeatPenalty', options.repeatPenalty, base.repeatPenalty, positive, 'a finite number > 0'),
    repeatLastN: integerOption('repeatLastN', options.repeatLastN, base.repeatLastN, 0, 1_000_000),
    frequencyPenalty: numberOption('frequencyPenalty', options.frequencyPenalty, base.frequencyPenalty, anyFinite,
      'a finite number'),
    presencePenalty: numberOption('presencePenalty', options.presencePenalty, base.presencePenalty, anyFinite,
      'a finite number'),
    seed: integerOption('seed', options.seed, base.seed, 0, RANDOM_SEED),
  };
}

/** Checks a preference list: non-empty texts, finite weights. */
export function resolvePreferences(input: readonly PreferenceInput[] | undefined): Required<Preference>[] {
  if (input === undefined) return [];
  if (!Array.isArray(input)) throw invalid(`preferences must be an array (got ${describe(input)})`);
  return input.map((entry: PreferenceInput, index) => {
    const preference: Preference = typeof entry === 'string' ? { text: entry } : entry;
    if (typeof preference !== 'object' || preference === null) {
      throw invalid(`preferences[${index}] must be a string or { text, weight } (got ${describe(entry)})`);
    }
    if (typeof preference.text !== 'string' || preference.text.trim() === '') {
      throw invalid(`preferences[${index}].text must be a non-empty string (got ${describe(preference.text)})`);
    }
    const weight = numberOption(`preferences[${index}].weight`, preference.weight, 1, () => true, 'a finite number');
    return { text: preference.text, weight };
  });
}

/** Checks that a method can run with these preferences. */
export function checkMethodPreferences(method: string, preferences: readonly Required<Preference>[]): void {
  if (method !== 'base' && preferences.length === 0) {
    throw invalid(`method '${method}' needs at least one preference`);
  }
  if (method === 'pref' && preferences.some((preference) => preference.weight < 0)) {
    throw invalid(`method 'pref' cannot follow a negative weight: it only adds the texts to the prompt`);
  }
}

/** Largest |coefficient| of a sequence in the realigned combination; beyond it float32 logits overflow or lose all precision. */
export const maxRealignCoefficient = 1e6;

/** Checks that the realignment's per-sequence coefficients are finite and moderate. */
export function checkRealignCoefficients(realign: NativeRealign, preferences: readonly Required<Preference>[]): void {
  if (realign.method === 'base' || realign.method === 'pref') return;
  // The addon's guidanceScale throws ERR_INVALID_OPTION when a_K is not finite.
  const scale = nativeBinding().guidanceScale(realign) + 1;
  let base = 1;
  for (const [index, preference] of preferences.entries()) {
    const coefficient = scale * preference.weight;
    base -= coefficient;
    if (!(Math.abs(coefficient) <= maxRealignCoefficient)) {
      throw invalid(`preferences[${index}].weight ${preference.weight} times the scale ${scale} gives the ` +
        `coefficient ${coefficient}, beyond ±${maxRealignCoefficient}: lower alpha, ratio or the weight`);
    }
  }
  if (!(Math.abs(base) <= maxRealignCoefficient)) {
    throw invalid(`the base coefficient ${base} is beyond ±${maxRealignCoefficient}: lower alpha, ratio or the weights`);
  }
}
