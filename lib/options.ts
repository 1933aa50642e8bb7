/**
 * Public option types, their defaults, and the validation that turns user
 * input into the fully specified settings the addon receives. Every check
 * throws an {@link AmuletError} with code `ERR_INVALID_OPTION` and a message
 * that names the option and the value it got.
 *
 * @packageDocumentation
 */
import { nativeBinding } from './addon';
import { AmuletError } from './errors';
import { describeValue, requirement, rules, satisfies, type JsonSchema, type OptionRule } from './option-rules';
import type { NativeOutputControls, NativeRealign, NativeSampling } from './addon-types';

/**
 * How the next-token distribution is formed.
 * - `amulet`: the paper's online-learning update in closed form (default).
 * - `amulet-iterative`: the paper's literal K-iteration loop; same distribution, K times the work.
 * - `la`: Linear Alignment, `z_p + ratio * (z_p - z_b)` on raw logits.
 * - `pref`: the prompt with the preference texts, no realignment.
 * - `base`: the prompt without any preference.
 *
 * @useDeclaredType
 */
export type RealignMethod = (typeof rules.method.values)[number];

/** Every method, in a stable order. */
export const realignMethods: readonly RealignMethod[] = rules.method.values;

/**
 * Where the realignment, and the sampling after it, run.
 * - `auto` (default): in the compute graph when the model's logits are on a
 *   GPU or an RPC server (`gpuLayers` above the model's layer count), else on
 *   the CPU: then one token comes back per step instead of every row.
 * - `cpu`: on the host, from the logits llama.cpp copies back each token.
 * - `backend`: in llama.cpp's compute graph, on whichever device holds the
 *   logits (the CPU too), so no vocabulary-sized row is copied per token.
 *
 * The backend path covers `amulet`, `la` and `pref` with greedy or
 * temperature/topK/topP/minP sampling and `logitBias`. `amulet-iterative`,
 * `trace`, repetition penalties, `grammar` and `jsonSchema`, and more
 * sequences than `batchSize` run on the CPU
 * whatever is asked; {@link GenerationResult.realignedOn} says where a prompt ran.
 *
 * @useDeclaredType
 */
export type RealignOn = (typeof rules.realignOn.values)[number];

/** Every {@link RealignOn} value. */
export const realignOnValues: readonly RealignOn[] = rules.realignOn.values;

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

/** Realignment hyperparameters; defaults are the paper's except α (see {@link RealignOptions.alpha}). */
export interface RealignOptions {
  /** Default `'amulet'`. */
  method?: RealignMethod;
  /**
   * Reward scale α (default 1.3: guidance scale 1.53). Finite, > 0. The
   * paper's α = 2 (scale 4.65) moves answers further from the preference
   * prompt's, and makes them less natural to the model; docs/eval/results.md
   * measures both. `alpha: 2` is the paper's exact update.
   */
  alpha?: number;
  /** Weight λ of the proximal term towards the preference policy (default 2). Finite, > 0. */
  lambda?: number;
  /** Learning rate η (default 10). Finite, > 0. */
  eta?: number;
  /** Iterations K of the online update (default 60). Integer in [1, 10000]. */
  iterations?: number;
  /** Ratio r of the `la` method (default 2). Finite, >= 0. */
  ratio?: number;
  /**
   * The plausibility constraint τ in [0, 1] (default 0: off, the paper's
   * behaviour). Realigned decoding (`amulet`, `amulet-iterative`, `la`) keeps
   * only the tokens to which the preference prompt gives at least τ times
   * the probability of its most likely token: the extrapolation
   * `l_p + s (l_p − l_b)` may reorder what the preference prompt finds
   * plausible, but never promote what it rules out. With several
   * preferences the first one with a positive weight decides (the base
   * prompt when none has). `pref` and `base` ignore it.
   */
  plausibility?: number;
  /**
   * A per-token budget, in nats, on how far realignment moves the
   * distribution from where it starts (default 0: off, the paper's
   * behaviour). With one preference that start is the preference prompt's
   * distribution: each token's guidance scale is the largest value up to the
   * method's own for which KL(realigned ‖ preference prompt) fits the
   * budget. `amulet` and `la`; `pref` and `base` ignore it;
   * `amulet-iterative` rejects it. Computed on the host (a prompt with a
   * budget does not realign in the compute graph).
   */
  klBudget?: number;
  /**
   * The echo guard (default false: off, the paper's update). The contrast
   * between the two prompts also rewards copying: the preference prompt
   * contains the preference's words, so the model's copying raises their
   * probability there, and the realignment multiplies that rise. With the
   * guard, a token of a preference's own text (its words with and without a
   * leading space, in lower case and capitalised, and their pieces; function
   * words and pieces under three letters left out) gets no positive push
   * from that preference: `l_p(v) + min(0, s (l_p(v) − l_b(v)))` instead of
   * `l_p(v) + s (l_p(v) − l_b(v))`. With several preferences each guards
   * its own words against its own push; the KL budget and the plausibility
   * constraint apply to the guarded distribution. `amulet` and `la`;
   * `pref` and `base` do not extrapolate; `amulet-iterative` rejects it.
   */
  echoGuard?: boolean;
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

/**
 * What a prompt's answer may be. Each is applied after the realignment, to
 * the realigned distribution, with any method.
 */
export interface OutputControls {
  /**
   * Up to 16 non-empty strings: the answer ends where its text first
   * contains one of them (`finishReason` `'stop'`,
   * {@link GenerationResult.stopString} names it). Neither the stop string
   * nor anything after it is streamed or kept in the history; text that
   * could be the start of a stop string is held back until it is known not
   * to be, so no chunk ever holds part of one.
   */
  stop?: readonly string[];
  /**
   * Token id → bias in [-100, 100] added to that token's logit after the
   * realignment (llama.cpp's logit-bias sampler); `-Infinity` bans the token. Ids must be
   * within the model's vocabulary ({@link ModelInfo.vocabularySize}).
   */
  logitBias?: Readonly<Record<number, number>>;
  /**
   * A GBNF grammar (llama.cpp's format; its rule `root` is the answer) that
   * the answer must follow: llama.cpp's grammar sampler after the
   * realignment. A grammar llama.cpp refuses rejects the prompt with
   * `ERR_INVALID_OPTION`. Runs on the host (see {@link RealignOn}).
   */
  grammar?: string;
  /**
   * A JSON Schema the answer must follow, turned into a grammar by
   * llama.cpp's converter (as llama-server does), or `true` for any JSON
   * object. Not with `grammar`. A schema the converter cannot handle rejects
   * the prompt with `ERR_INVALID_OPTION`. Runs on the host.
   */
  jsonSchema?: JsonSchema;
}

/** This library's defaults: the paper's (arXiv 2502.19148) except α, 1.3 where the paper has 2. */
export const defaults = Object.freeze({
  /** The realignment method (`'amulet'`). */
  method: rules.method.default,
  /** Amulet's reward scale α. */
  alpha: rules.alpha.default,
  /** Amulet's proximal weight λ. */
  lambda: rules.lambda.default,
  /** Amulet's learning rate η. */
  eta: rules.eta.default,
  /** Amulet's iterations K. */
  iterations: rules.iterations.default,
  /** Linear Alignment's ratio r. */
  ratio: rules.ratio.default,
  /** The plausibility constraint τ (0: off). */
  plausibility: rules.plausibility.default,
  /** The per-token KL budget B, in nats (0: off). */
  klBudget: rules.klBudget.default,
  /** The echo guard (off: the paper's update). */
  echoGuard: rules.echoGuard.default,
  /** The system prompt. */
  systemPrompt: rules.systemPrompt.default,
  /** Most tokens a prompt generates. */
  maxTokens: rules.maxTokens.default,
  /** Tokens per sequence of a context. */
  contextSize: rules.contextSize.default,
  /** Tokens per decode step. */
  batchSize: rules.batchSize.default,
});

/** Sampling defaults: greedy decoding, every filter and penalty off, a random seed. */
export const samplingDefaults: Readonly<Required<SamplingOptions>> = Object.freeze({
  temperature: rules.temperature.default,
  topK: rules.topK.default,
  topP: rules.topP.default,
  minP: rules.minP.default,
  repeatPenalty: rules.repeatPenalty.default,
  repeatLastN: rules.repeatLastN.default,
  frequencyPenalty: rules.frequencyPenalty.default,
  presencePenalty: rules.presencePenalty.default,
  seed: rules.seed.default,
});

function invalid(message: string): AmuletError {
  return new AmuletError('ERR_INVALID_OPTION', message);
}

/**
 * Checks a value against its rule: the value when it satisfies the rule, the
 * fallback (the rule's default unless given) when it is undefined.
 *
 * @throws AmuletError ERR_INVALID_OPTION: "<label> must be <requirement> (got <value>)".
 */
export function optionValue<R extends OptionRule>(rule: R, value: unknown, fallback: R['default'] = rule.default,
  label: string = rule.name): R['default'] {
  if (value === undefined) return fallback;
  // Words such as gpuLayers' 'max' are read by the caller, which knows what they stand for.
  const plain = rule.kind === 'number' ? { ...rule, words: undefined } : rule;
  if (!satisfies(plain, value)) throw invalid(`${label} must be ${requirement(rule)} (got ${describeValue(value)})`);
  return value as R['default'];
}

/** An options object (or undefined, read as empty). */
export function objectOption<T extends object>(name: string, value: T | undefined): Partial<T> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`${name} must be an object (got ${describeValue(value)})`);
  }
  return value;
}

/** Fills in and checks realignment options; `base` supplies values not given. */
export function resolveRealign(options: RealignOptions, base?: NativeRealign): NativeRealign {
  return {
    method: optionValue(rules.method, options.method, base?.method),
    alpha: optionValue(rules.alpha, options.alpha, base?.alpha),
    lambda: optionValue(rules.lambda, options.lambda, base?.lambda),
    eta: optionValue(rules.eta, options.eta, base?.eta),
    iterations: optionValue(rules.iterations, options.iterations, base?.iterations),
    ratio: optionValue(rules.ratio, options.ratio, base?.ratio),
    plausibility: optionValue(rules.plausibility, options.plausibility, base?.plausibility),
    klBudget: optionValue(rules.klBudget, options.klBudget, base?.klBudget),
    echoGuard: optionValue(rules.echoGuard, options.echoGuard, base?.echoGuard),
  };
}

/** Fills in and checks sampling options; `base` supplies values not given. */
export function resolveSampling(input: SamplingOptions | undefined, base: NativeSampling = samplingDefaults): NativeSampling {
  const options = objectOption('sampling', input);
  const keys = Object.keys(samplingDefaults) as (keyof NativeSampling)[];
  return Object.fromEntries(keys.map((key) => [key, optionValue(rules[key], options[key], base[key])])) as
    unknown as NativeSampling;
}

/** Checks a preference list: non-empty texts, finite weights. */
export function resolvePreferences(input: readonly PreferenceInput[] | undefined): Required<Preference>[] {
  if (input === undefined) return [];
  if (!Array.isArray(input)) throw invalid(`preferences must be an array (got ${describeValue(input)})`);
  return input.map((entry: PreferenceInput, index) => {
    const preference: Preference = typeof entry === 'string' ? { text: entry } : entry;
    if (typeof preference !== 'object' || preference === null) {
      throw invalid(`preferences[${index}] must be a string or { text, weight } (got ${describeValue(entry)})`);
    }
    if (typeof preference.text !== 'string' || preference.text.trim() === '') {
      throw invalid(`preferences[${index}].text must be a non-empty string (got ${describeValue(preference.text)})`);
    }
    const weight = optionValue(rules.weight, preference.weight, rules.weight.default, `preferences[${index}].weight`);
    return { text: preference.text, weight };
  });
}

/**
 * Why a method cannot run with these preferences, or undefined when it can:
 * every method but `base` needs a preference, and `pref` cannot follow a
 * negative weight (it only adds the texts to the prompt). The library and
 * the command line phrase it each in their own terms.
 */
export function methodPreferencesFault(method: string, preferences: readonly Required<Preference>[]):
  'noPreference' | 'negativeWeight' | undefined {
  if (method !== 'base' && preferences.length === 0) return 'noPreference';
  if (method === 'pref' && preferences.some((preference) => preference.weight < 0)) return 'negativeWeight';
  return undefined;
}

/** Checks that a method can run with these preferences. */
export function checkMethodPreferences(method: string, preferences: readonly Required<Preference>[]): void {
  switch (methodPreferencesFault(method, preferences)) {
    case 'noPreference': throw invalid(`method '${method}' needs at least one preference`);
    case 'negativeWeight':
      throw invalid(`method 'pref' cannot follow a negative weight: it only adds the texts to the prompt`);
    case undefined: return;
  }
}

/** Largest |coefficient| of a sequence in the realigned combination; beyond it float32 logits overflow or lose all precision. */
export const maxRealignCoefficient = 1e6;

/** Checks that the realignment's per-sequence coefficients are finite and moderate. */
export function checkRealignCoefficients(realign: NativeRealign, preferences: readonly Required<Preference>[]): void {
  if (realign.method === 'base' || realign.method === 'pref') return;
  const scale = guidanceScale(realign) + 1;
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

let lastScale: { key: string; scale: number } | undefined;

/**
 * The addon's guidance scale of these coefficients, remembered for the last
 * ones asked: a server checks a request before it waits for a slot and the
 * session checks it again, and both get the same coefficients.
 */
function guidanceScale(realign: NativeRealign): number {
  const key = JSON.stringify([realign.method, realign.alpha, realign.lambda, realign.eta, realign.iterations,
    realign.ratio, realign.plausibility, realign.klBudget]);
  // The addon throws ERR_INVALID_OPTION when a_K is not finite.
  if (lastScale?.key !== key) lastScale = { key, scale: nativeBinding().guidanceScale(realign) };
  return lastScale.scale;
}

/**
 * Checks a logit-bias object against its rule and the model's vocabulary
 * (`label` names it in the errors).
 */
export function checkLogitBias(value: unknown, vocabularySize: number, label: string = rules.logitBias.name):
  Readonly<Record<number, number>> {
  const biases = optionValue(rules.logitBias, value, rules.logitBias.default, label);
  for (const token of Object.keys(biases).map(Number)) {
    if (token >= vocabularySize) {
      throw invalid(`${label}: ${token} is not a token id of this model (0 to ${vocabularySize - 1})`);
    }
  }
  return biases;
}

/** The schema `jsonSchema: true` stands for. */
const ANY_JSON_OBJECT = '{"type":"object"}';

/**
 * Fills in and checks a prompt's output controls; token ids must be below
 * `vocabularySize`.
 */
export function resolveOutputControls(options: OutputControls, vocabularySize: number): NativeOutputControls {
  const stop = optionValue(rules.stop, options.stop);
  const logitBias = Object.entries(checkLogitBias(options.logitBias, vocabularySize))
    .map(([token, bias]) => ({ token: Number(token), bias }));
  const grammar = optionValue(rules.grammar, options.grammar);
  const schema = optionValue(rules.jsonSchema, options.jsonSchema);
  if (grammar !== '' && schema !== undefined) throw invalid('grammar and jsonSchema cannot be used together');
  return { stop: [...stop], logitBias, grammar, jsonSchema: schema === undefined ? '' : jsonSchemaText(schema) };
}

function jsonSchemaText(schema: JsonSchema): string {
  if (schema === true) return ANY_JSON_OBJECT;
  try {
    return JSON.stringify(schema);
  } catch (error) {
    throw invalid(`jsonSchema must be plain JSON: ${(error as Error).message}`);
  }
}
