/**
 * The `amulet` command line: its options, and the parsing and validation that
 * turn argv into a {@link RunRequest}. Every mistake throws a
 * {@link UsageError} whose one-line message names the flag and the value.
 *
 * @packageDocumentation
 */
import { parseArgs } from 'node:util';
import {
  defaults, realignMethods, realignOnValues, type Preference, type RealignMethod, type RealignOn, type SamplingOptions,
} from '../lib/index';

/** A mistake on the command line; the CLI prints its message and exits with code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Every option `amulet` accepts, in the form `node:util` parseArgs reads. */
export const commandLineOptions = {
  preference: { type: 'string', short: 'p', multiple: true },
  weight: { type: 'string', short: 'w', multiple: true },
  method: { type: 'string' },
  alpha: { type: 'string' },
  lambda: { type: 'string' },
  eta: { type: 'string' },
  iterations: { type: 'string' },
  ratio: { type: 'string' },
  'max-tokens': { type: 'string' },
  system: { type: 'string' },
  temperature: { type: 'string' },
  'top-k': { type: 'string' },
  'top-p': { type: 'string' },
  'min-p': { type: 'string' },
  'repeat-penalty': { type: 'string' },
  seed: { type: 'string' },
  threads: { type: 'string' },
  'context-size': { type: 'string' },
  model: { type: 'string' },
  'chat-template': { type: 'string' },
  'gpu-layers': { type: 'string' },
  'realign-on': { type: 'string' },
  compare: { type: 'boolean' },
  json: { type: 'boolean' },
  trace: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const;

/** The methods `--compare` can put beside `base` and `pref`: those that realign. */
export const realigningMethods: readonly RealignMethod[] = ['amulet', 'amulet-iterative', 'la'];

/** Realignment hyperparameters with every value filled in (the library's defaults where not given). */
export interface RealignParameters {
  alpha: number;
  lambda: number;
  eta: number;
  iterations: number;
  ratio: number;
}

/** What to do for a command line that asks for an answer. */
export interface RunRequest {
  question: string;
  /** In command-line order, each with its weight (1 where none was given). */
  preferences: Required<Preference>[];
  /** The method of the answer; with `compare`, the method shown beside `base` and `pref`. */
  method: RealignMethod;
  compare: boolean;
  json: boolean;
  trace: boolean;
  realign: RealignParameters;
  /** Only the sampling settings given on the command line; the library fills in the rest. */
  sampling: SamplingOptions;
  maxTokens: number;
  systemPrompt: string;
  /** A GGUF path; undefined means the SmolLM2 fixture model. */
  modelPath: string | undefined;
  chatTemplate: string | undefined;
  gpuLayers: number | 'max' | undefined;
  /** Where the realignment runs; undefined leaves the library's 'auto'. */
  realignOn: RealignOn | undefined;
  threads: number | undefined;
  contextSize: number | undefined;
}

/** What a command line asks for. */
export type CommandLine = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; request: RunRequest };

/** A `--preference` argument split into its text and its weight, when it ends with one. */
export interface ParsedPreference {
  text: string;
  weight: number | undefined;
}

const DECIMAL_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const DECIMAL_INTEGER = /^[+-]?\d+$/;
/** Text, then a colon and a number at the very end: the number is the weight. */
const TRAILING_WEIGHT = /^([\s\S]*):([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)$/;

/** Quotes a value for an error message, shortening long ones. */
function quote(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

/**
 * Splits a `--preference` argument: `"Be concise:0.5"` is the text "Be
 * concise" with weight 0.5, and `"Be concise:-1"` steers away from it. A
 * colon not followed by a number to the end stays part of the text
 * (`"Tone: formal"`); only the last `:<number>` is read as a weight, so
 * `"Use 16:9:1"` keeps "Use 16:9" as text.
 *
 * @throws UsageError when the text is empty or the weight is not finite.
 */
export function parsePreference(argument: string): ParsedPreference {
  const match = TRAILING_WEIGHT.exec(argument);
  const text = (match ? match[1]! : argument).trim();
  if (text === '') throw new UsageError(`--preference needs some text (got ${quote(argument)})`);
  if (!match) return { text, weight: undefined };
  const weight = Number(match[2]);
  if (!Number.isFinite(weight)) throw new UsageError(`--preference weight must be a finite number (got ${quote(argument)})`);
  return { text, weight };
}

/** Reads a `--weight` value. */
function parseWeight(value: string): number {
  const weight = DECIMAL_NUMBER.test(value) ? Number(value) : NaN;
  if (!Number.isFinite(weight)) throw new UsageError(`--weight must be a finite number (got ${quote(value)})`);
  return weight;
}

/** The long name of a command-line option, without its dashes. */
type OptionName = keyof typeof commandLineOptions;

/** A numeric flag's kind, range test, and the requirement its error message states. */
interface NumericRule {
  integer: boolean;
  accepts: (n: number) => boolean;
  requirement: string;
}

const positiveNumber: NumericRule = { integer: false, accepts: (n) => n > 0, requirement: 'a number > 0' };
const integerIn = (min: number, max: number): NumericRule => ({
  integer: true,
  accepts: (n) => n >= min && n <= max,
  requirement: `an integer from ${min} to ${max}`,
});

/** The library's ranges, restated per flag so that a bad value is a usage error naming the flag. */
const numericRules = {
  alpha: positiveNumber,
  lambda: positiveNumber,
  eta: positiveNumber,
  iterations: integerIn(1, 10_000),
  ratio: { integer: false, accepts: (n) => n >= 0, requirement: 'a number >= 0' },
  'max-tokens': integerIn(1, 1 << 24),
  temperature: { integer: false, accepts: (n) => n >= 0, requirement: 'a number >= 0' },
  'top-k': integerIn(0, 1_000_000),
  'top-p': { integer: false, accepts: (n) => n > 0 && n <= 1, requirement: 'a number in (0, 1]' },
  'min-p': { integer: false, accepts: (n) => n >= 0 && n < 1, requirement: 'a number in [0, 1)' },
  'repeat-penalty': positiveNumber,
  seed: integerIn(0, 0xffff_fffe),
  threads: integerIn(1, 1024),
  'context-size': integerIn(64, 1 << 20),
  'gpu-layers': { ...integerIn(0, 100_000), requirement: 'an integer from 0 to 100000, or max' },
} satisfies Partial<Record<OptionName, NumericRule>>;

type NumericOption = keyof typeof numericRules;

/** Reads a numeric flag, or undefined when it was not given. */
function numericValue(name: NumericOption, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const rule: NumericRule = numericRules[name];
  const wellFormed = (rule.integer ? DECIMAL_INTEGER : DECIMAL_NUMBER).test(value.trim());
  const number = wellFormed ? Number(value) : NaN;
  if (!Number.isFinite(number) || !rule.accepts(number) || (rule.integer && !Number.isSafeInteger(number))) {
    throw new UsageError(`--${name} must be ${rule.requirement} (got ${quote(value)})`);
  }
  return number;
}

/**
 * parseArgs refuses `--weight -1` as ambiguous (the value looks like a flag).
 * A negative number right after a flag that takes a value is always that
 * flag's value, so it is glued on (`--weight=-1`, `-w-1`) before parsing.
 */
function attachNegativeValues(args: readonly string[]): string[] {
  const valueFlags = new Set<string>();
  for (const [name, option] of Object.entries(commandLineOptions)) {
    if (option.type !== 'string') continue;
    valueFlags.add(`--${name}`);
    if ('short' in option) valueFlags.add(`-${option.short}`);
  }
  const attached: string[] = [];
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index]!;
    if (arg === '--') {
      attached.push(...args.slice(index));
      break;
    }
    const next = args[index + 1];
    if (valueFlags.has(arg) && next !== undefined && next.startsWith('-') && DECIMAL_NUMBER.test(next)) {
      attached.push(arg.startsWith('--') ? `${arg}=${next}` : `${arg}${next}`);
      index += 1;
    } else {
      attached.push(arg);
    }
  }
  return attached;
}

/**
 * Pairs preferences with weights in command-line order. A `--weight` belongs
 * to the earliest `--preference` before it that has no weight yet, so both
 * `-p A -w 2 -p B -w -1` and `-p A -p B -w 2 -w -1` give A weight 2 and B −1.
 */
function collectPreferences(tokens: ReturnType<typeof parseArgs>['tokens']): Required<Preference>[] {
  const collected: ParsedPreference[] = [];
  for (const token of tokens ?? []) {
    if (token.kind !== 'option' || token.value === undefined) continue;
    if (token.name === 'preference') collected.push(parsePreference(token.value));
    if (token.name === 'weight') {
      const weight = parseWeight(token.value);
      const unweighted = collected.find((preference) => preference.weight === undefined);
      if (!unweighted) {
        throw new UsageError(`--weight ${token.value} has no --preference without a weight before it`);
      }
      unweighted.weight = weight;
    }
  }
  return collected.map(({ text, weight }) => ({ text, weight: weight ?? 1 }));
}

function methodValue(value: string | undefined): RealignMethod {
  if (value === undefined) return defaults.method;
  const method = realignMethods.find((known) => known === value);
  if (!method) throw new UsageError(`--method must be one of ${realignMethods.join(', ')} (got ${quote(value)})`);
  return method;
}

/** Checks the combinations the library would refuse, so that they are usage errors too. */
function realignOnValue(value: string | undefined): RealignOn | undefined {
  if (value === undefined) return undefined;
  const realignOn = realignOnValues.find((known) => known === value);
  if (!realignOn) throw new UsageError(`--realign-on must be one of ${realignOnValues.join(', ')} (got ${quote(value)})`);
  return realignOn;
}

function checkMethodCombination(method: RealignMethod, compare: boolean, preferences: readonly Required<Preference>[]): void {
  if (compare && !realigningMethods.includes(method)) {
    throw new UsageError(`--compare already shows base and pref; --method must be one of ${realigningMethods.join(', ')}`);
  }
  const usesPreferences = compare || method !== 'base';
  if (usesPreferences && preferences.length === 0) {
    throw new UsageError(`${compare ? '--compare' : `--method ${method}`} needs at least one --preference`);
  }
  const runsPref = compare || method === 'pref';
  if (runsPref && preferences.some((preference) => preference.weight < 0)) {
    throw new UsageError('the pref method only adds the preference texts to the prompt, so it cannot follow a negative weight');
  }
}

/** Restates parseArgs' errors on one line, without its advice about positionals that start with "-". */
function parseErrorMessage(error: Error): string {
  const unknownOption = /^Unknown option '([^']*)'/.exec(error.message);
  if (unknownOption) return `unknown option ${unknownOption[1]}`;
  return error.message.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * Parses and validates `amulet`'s arguments (argv without node and the
 * script). `--help` and `--version` win over everything else.
 *
 * @throws UsageError on an unknown flag, a missing or malformed value, a
 *   value out of range, or a combination that cannot run.
 */
export function parseCommandLine(args: readonly string[]): CommandLine {
  let parsed;
  try {
    parsed = parseArgs({
      args: attachNegativeValues(args),
      options: commandLineOptions,
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch (error) {
    throw new UsageError(parseErrorMessage(error as Error));
  }
  const { values, positionals, tokens } = parsed;
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };

  if (positionals.length !== 1) {
    throw new UsageError(positionals.length === 0
      ? 'missing the question, e.g. amulet "How do I boil an egg?" --preference "Be concise."'
      : `expected one question, got ${positionals.length} arguments (put the question in quotes)`);
  }
  const question = positionals[0]!;
  if (question.trim() === '') throw new UsageError('the question is empty');

  const preferences = collectPreferences(tokens);
  const method = methodValue(values.method);
  const sampling: SamplingOptions = {
    temperature: numericValue('temperature', values.temperature),
    topK: numericValue('top-k', values['top-k']),
    topP: numericValue('top-p', values['top-p']),
    minP: numericValue('min-p', values['min-p']),
    repeatPenalty: numericValue('repeat-penalty', values['repeat-penalty']),
    seed: numericValue('seed', values.seed),
  };
  const modelPath = values.model;
  if (modelPath !== undefined && modelPath.trim() === '') throw new UsageError('--model needs a GGUF file path');
  const request: RunRequest = {
    question,
    preferences,
    method,
    compare: values.compare ?? false,
    json: values.json ?? false,
    trace: values.trace ?? false,
    realign: {
      alpha: numericValue('alpha', values.alpha) ?? defaults.alpha,
      lambda: numericValue('lambda', values.lambda) ?? defaults.lambda,
      eta: numericValue('eta', values.eta) ?? defaults.eta,
      iterations: numericValue('iterations', values.iterations) ?? defaults.iterations,
      ratio: numericValue('ratio', values.ratio) ?? defaults.ratio,
    },
    // Unset keys are dropped so the library applies its own defaults.
    sampling: Object.fromEntries(Object.entries(sampling).filter(([, value]) => value !== undefined)),
    maxTokens: numericValue('max-tokens', values['max-tokens']) ?? defaults.maxTokens,
    systemPrompt: values.system ?? defaults.systemPrompt,
    modelPath,
    chatTemplate: values['chat-template'],
    gpuLayers: values['gpu-layers']?.trim() === 'max' ? 'max' : numericValue('gpu-layers', values['gpu-layers']),
    realignOn: realignOnValue(values['realign-on']),
    threads: numericValue('threads', values.threads),
    contextSize: numericValue('context-size', values['context-size']),
  };
  // Each value is checked on its own first, so a bad value is reported as such.
  checkMethodCombination(request.method, request.compare, request.preferences);
  return { kind: 'run', request };
}
