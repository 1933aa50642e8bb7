/**
 * The `amulet` command line: its options, and the parsing and validation that
 * turn argv into a {@link RunRequest}. The library's options come from its
 * rules table (cli/flags.ts); every mistake throws a {@link UsageError} whose
 * one-line message names the flag and the value.
 *
 * @packageDocumentation
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { rules, type NumberRule, type OptionRule, type RuleName } from '../lib/option-rules';
import type {
  JsonSchema, OutputControls, Preference, RealignMethod, RealignOn, RealignOptions, SamplingOptions,
} from '../lib/index';
import { methodPreferencesFault } from '../lib/options';
import { DEFAULT_MODEL } from './model-loading';
import { attachNegativeValues, flagValue, flagValues, parseErrorMessage, quote, ruleFlags, UsageError } from './flags';

export { UsageError } from './flags';

/** The library options `amulet` takes as flags, in help order. */
export const realignFlags: readonly RuleName[] = ['method', 'alpha', 'lambda', 'eta', 'iterations', 'ratio',
  'plausibility', 'klBudget', 'echoGuard'];
const samplingOptionFlags = [
  'temperature', 'topK', 'topP', 'minP', 'repeatPenalty', 'repeatLastN', 'frequencyPenalty', 'presencePenalty', 'seed',
] as const satisfies readonly (keyof SamplingOptions)[];
export const samplingFlags: readonly RuleName[] = ['maxTokens', ...samplingOptionFlags];
export const modelFlags: readonly RuleName[] = [
  'chatTemplate', 'gpuLayers', 'rpcServers', 'tensorSplit', 'realignOn', 'threads', 'contextSize', 'batchSize',
];

/** What the answer may be: the output controls. */
export const outputControlFlags: readonly RuleName[] = ['stop', 'logitBias', 'grammar', 'jsonSchema'];

/** The flags of every command that runs a model: the model, the preferences, realignment and sampling. */
export const sessionCommandLineOptions = {
  preference: { type: 'string', short: 'p', multiple: true },
  weight: { type: 'string', short: 'w', multiple: true },
  'preference-file': { type: 'string' },
  model: { type: 'string' },
  ...ruleFlags(['systemPrompt', ...realignFlags, ...samplingFlags, ...modelFlags]),
} as const;

/** Every option `amulet` accepts, in the form `node:util` parseArgs reads. */
export const commandLineOptions = {
  ...sessionCommandLineOptions,
  compare: { type: 'boolean' },
  json: { type: 'boolean' },
  'json-object': { type: 'boolean' },
  trace: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  ...ruleFlags(outputControlFlags),
} as const;

/** The methods `--compare` can put beside `base` and `pref`: those that realign. */
export const realigningMethods: readonly RealignMethod[] = ['amulet', 'amulet-iterative', 'la'];

/** Realignment hyperparameters with every value filled in (the library's defaults where not given). */
export type RealignParameters = Required<Omit<RealignOptions, 'method'>>;

/** What the flags of {@link sessionCommandLineOptions} ask for. */
export interface SessionFlags {
  /** In command-line order (then the preference file's), each with its weight (1 where none was given). */
  preferences: Required<Preference>[];
  /** --method; undefined when it was not given. */
  method: RealignMethod | undefined;
  realign: RealignParameters;
  /** Only the sampling settings given on the command line; the library fills in the rest. */
  sampling: SamplingOptions;
  /** --max-tokens; undefined when it was not given. */
  maxTokens: number | undefined;
  systemPrompt: string;
  /** A GGUF path, an hf: reference or a URL (default {@link DEFAULT_MODEL}). */
  modelPath: string;
  chatTemplate: string | undefined;
  gpuLayers: number | 'max' | undefined;
  /** RPC servers (`host:port`) that take the offloaded layers; undefined: none. */
  rpcServers: readonly string[] | undefined;
  tensorSplit: readonly number[] | undefined;
  /** Where the realignment runs; undefined leaves the library's 'auto'. */
  realignOn: RealignOn | undefined;
  threads: number | undefined;
  contextSize: number | undefined;
  batchSize: number | undefined;
}

/** What to do for a command line that asks for an answer. */
export interface RunRequest extends Omit<SessionFlags, 'method' | 'maxTokens'> {
  question: string;
  /** The method of the answer; with `compare`, the method shown beside `base` and `pref`. */
  method: RealignMethod;
  compare: boolean;
  json: boolean;
  trace: boolean;
  maxTokens: number;
  /** The output controls given: `stop`, `logitBias`, `grammar` (read from its file), `jsonSchema`. */
  outputControls: OutputControls;
}

/** What a command line asks for. */
export type CommandLine = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; request: RunRequest };

/**
 * A `--preference` argument: its text, verbatim. A weight is never read out
 * of the text ("Answer with times as 10:30" stays whole); `--weight` or a
 * preference file gives one.
 *
 * @throws UsageError when the text is blank.
 */
export function parsePreference(argument: string): string {
  if (argument.trim() === '') throw new UsageError(`--preference needs some text (got ${quote(argument)})`);
  return argument;
}

/** Reads a `--weight` value. */
function parseWeight(value: string): number {
  return flagValue(rules.weight, value)!;
}

/**
 * Reads a preference file: a JSON array whose entries are a preference's text
 * or `{ "text": string, "weight"?: number }` (`{ "name", "text" }`, as
 * `amulet eval` takes, works too).
 *
 * @throws UsageError when the file cannot be read or an entry is malformed.
 */
export function readPreferenceFile(path: string): Required<Preference>[] {
  let entries: unknown;
  try {
    entries = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`--preference-file ${quote(path)}: ${(error as Error).message}`);
  }
  if (!Array.isArray(entries) || entries.length === 0) {
    throw new UsageError(`--preference-file ${quote(path)} must hold a non-empty JSON array of preferences`);
  }
  return entries.map((entry: unknown, index) => {
    const preference = typeof entry === 'string' ? { text: entry } : entry as { text?: unknown; weight?: unknown };
    const where = `--preference-file ${quote(path)}, entry ${index}`;
    if (typeof preference !== 'object' || preference === null || typeof preference.text !== 'string' ||
        preference.text.trim() === '') {
      throw new UsageError(`${where}: needs a non-empty "text"`);
    }
    const weight = preference.weight ?? 1;
    if (typeof weight !== 'number' || !Number.isFinite(weight)) throw new UsageError(`${where}: "weight" must be a finite number`);
    return { text: preference.text, weight };
  });
}

/**
 * Pairs preferences with weights in command-line order. A `--weight` belongs
 * to the earliest `--preference` before it that has no weight yet, so both
 * `-p A -w 2 -p B -w -1` and `-p A -p B -w 2 -w -1` give A weight 2 and B −1.
 */
function collectPreferences(tokens: ReturnType<typeof parseArgs>['tokens']): Required<Preference>[] {
  const collected: { text: string; weight: number | undefined }[] = [];
  for (const token of tokens ?? []) {
    if (token.kind !== 'option' || token.value === undefined) continue;
    if (token.name === 'preference') collected.push({ text: parsePreference(token.value), weight: undefined });
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

function checkMethodCombination(method: RealignMethod, compare: boolean, preferences: readonly Required<Preference>[]): void {
  if (compare && !realigningMethods.includes(method)) {
    throw new UsageError(`--compare already shows base and pref; --method must be one of ${realigningMethods.join(', ')}`);
  }
  // --compare runs pref beside the method, so pref's needs are the stricter.
  switch (methodPreferencesFault(compare ? 'pref' : method, preferences)) {
    case 'noPreference':
      throw new UsageError(`${compare ? '--compare' : `--method ${method}`} needs at least one --preference`);
    case 'negativeWeight':
      throw new UsageError('the pref method only adds the preference texts to the prompt, so it cannot follow a ' +
        'negative weight');
    case undefined: return;
  }
}

/** Reads the file a flag names; `parse` turns its text into the value. */
function readFlagFile<T>(flag: string, path: string, parse: (text: string) => T): T {
  try {
    return parse(readFileSync(path, 'utf8'));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw new UsageError(`--${flag} ${quote(path)}: ${(error as Error).message}`);
  }
}

/** What the output-control flags gave, as parseArgs read them. */
interface OutputControlFlags {
  stop?: string[];
  logitBias?: string[];
  grammarFile?: string;
  schemaFile?: string;
  jsonObject?: boolean;
}

/** The output controls of a command line: --stop, --logit-bias, --grammar-file, --json-schema-file, --json-object. */
function parseOutputControls(flags: OutputControlFlags): OutputControls {
  const stop = flagValues(rules.stop, flags.stop);
  const logitBias = flagValues(rules.logitBias, flags.logitBias);
  const { grammarFile, schemaFile } = flags;
  const jsonObject = flags.jsonObject === true;
  const given = [grammarFile && '--grammar-file', schemaFile && '--json-schema-file', jsonObject && '--json-object']
    .filter(Boolean);
  if (given.length > 1) throw new UsageError(`${given.join(' and ')} cannot be used together`);
  const grammar = grammarFile === undefined ? undefined : readFlagFile('grammar-file', grammarFile, (text) => {
    if (text.trim() === '') throw new UsageError(`--grammar-file ${quote(grammarFile)} is empty`);
    return text;
  });
  const jsonSchema: JsonSchema | undefined = jsonObject ? true : schemaFile === undefined ? undefined :
    readFlagFile('json-schema-file', schemaFile, (text) => {
      const schema: unknown = JSON.parse(text);
      if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
        throw new UsageError(`--json-schema-file ${quote(schemaFile)} must hold a JSON object`);
      }
      return schema as JsonSchema;
    });
  const controls: OutputControls = { stop, logitBias, grammar, jsonSchema };
  return Object.fromEntries(Object.entries(controls).filter(([, value]) => value !== undefined));
}

/** The values `node:util` parseArgs gives for options that include {@link sessionCommandLineOptions}. */
type ParsedValues = { [flag: string]: string | boolean | (string | boolean)[] | undefined };

/**
 * Reads the flags of {@link sessionCommandLineOptions} from parseArgs' values
 * and tokens (the tokens pair each --weight with its --preference).
 *
 * @throws UsageError for a value out of range or a preference file that cannot be read.
 */
export function readSessionFlags(values: ParsedValues, tokens: ReturnType<typeof parseArgs>['tokens']): SessionFlags {
  const preferences = collectPreferences(tokens);
  const preferenceFile = values['preference-file'] as string | undefined;
  if (preferenceFile !== undefined) preferences.push(...readPreferenceFile(preferenceFile));
  // The table's flags are known by name only at run time.
  const given = (rule: OptionRule): string | undefined => values[rule.flag!] as string | undefined;
  const number = (rule: NumberRule<never>): number | undefined => flagValue(rule, given(rule));
  const sampling: SamplingOptions = {};
  for (const name of samplingOptionFlags) {
    const value = number(rules[name]);
    // Only the sampling flags given: the library fills in the rest.
    if (value !== undefined) sampling[name] = value;
  }
  const modelPath = (values.model as string | undefined) ?? DEFAULT_MODEL;
  if (modelPath.trim() === '') throw new UsageError('--model needs a GGUF path, an hf: reference or a URL');
  return {
    preferences,
    method: flagValue(rules.method, given(rules.method)),
    realign: {
      alpha: number(rules.alpha) ?? rules.alpha.default,
      lambda: number(rules.lambda) ?? rules.lambda.default,
      eta: number(rules.eta) ?? rules.eta.default,
      iterations: number(rules.iterations) ?? rules.iterations.default,
      ratio: number(rules.ratio) ?? rules.ratio.default,
      plausibility: number(rules.plausibility) ?? rules.plausibility.default,
      klBudget: number(rules.klBudget) ?? rules.klBudget.default,
      echoGuard: flagValue(rules.echoGuard, given(rules.echoGuard)) ?? rules.echoGuard.default,
    },
    sampling,
    maxTokens: number(rules.maxTokens),
    systemPrompt: flagValue(rules.systemPrompt, given(rules.systemPrompt)) ?? rules.systemPrompt.default,
    modelPath,
    chatTemplate: flagValue(rules.chatTemplate, given(rules.chatTemplate)),
    gpuLayers: flagValue(rules.gpuLayers, given(rules.gpuLayers)),
    rpcServers: flagValue(rules.rpcServers, given(rules.rpcServers)),
    tensorSplit: flagValue(rules.tensorSplit, given(rules.tensorSplit)),
    realignOn: flagValue(rules.realignOn, given(rules.realignOn)),
    threads: number(rules.threads),
    contextSize: number(rules.contextSize),
    batchSize: number(rules.batchSize),
  };
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
      args: attachNegativeValues(args, commandLineOptions),
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

  const flags = readSessionFlags(values, tokens);
  // The table's flags are known by name only at run time.
  const flagText = (flag: string): ParsedValues[string] => (values as ParsedValues)[flag];
  const request: RunRequest = {
    ...flags,
    question,
    method: flags.method ?? rules.method.default,
    compare: values.compare ?? false,
    json: values.json ?? false,
    trace: values.trace ?? false,
    maxTokens: flags.maxTokens ?? rules.maxTokens.default,
    outputControls: parseOutputControls({
      stop: flagText('stop') as string[] | undefined,
      logitBias: flagText('logit-bias') as string[] | undefined,
      grammarFile: flagText('grammar-file') as string | undefined,
      schemaFile: flagText('json-schema-file') as string | undefined,
      jsonObject: values['json-object'],
    }),
  };
  // Each value is checked on its own first, so a bad value is reported as such.
  checkMethodCombination(request.method, request.compare, request.preferences);
  return { kind: 'run', request };
}
