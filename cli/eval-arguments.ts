/**
 * `amulet eval`'s command line: its options and the parsing that turns argv
 * into an {@link EvalRequest}. Mistakes throw a {@link UsageError}.
 *
 * @packageDocumentation
 */
import { parseArgs } from 'node:util';
import { rules, type NumberRule, type RuleName } from '../lib/option-rules';
import { evalMethods, type EvalMethod } from '../eval/plan';
import type { EvalParameters } from '../eval/runner';
import { attachNegativeValues, flagValue, parseErrorMessage, ruleFlags, UsageError } from './flags';

/** The library options `amulet eval` takes as flags, in help order. */
export const evalRuleFlags: readonly RuleName[] = [
  'chatTemplate', 'maxTokens', 'systemPrompt', 'alpha', 'lambda', 'eta', 'iterations', 'ratio', 'beams',
  'lengthPenalty', 'threads', 'contextSize', 'rpcServers', 'tensorSplit',
];

export const evalOptions = {
  model: { type: 'string' },
  questions: { type: 'string', multiple: true },
  limit: { type: 'string' },
  preferences: { type: 'string' },
  'preference-file': { type: 'string' },
  methods: { type: 'string' },
  out: { type: 'string' },
  judge: { type: 'string' },
  'judge-chat-template': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  ...ruleFlags(evalRuleFlags),
} as const;

/** How many questions of each set to take: an option of the harness, not of the library. */
const limitRule: NumberRule = {
  kind: 'number', name: 'limit', flag: 'limit', integer: true, min: 1, max: 1_000_000, default: 1_000_000,
  description: 'The first n questions of each set',
};

/** The paper's generation length (docs/algorithm.md), the default here. */
export const EVAL_MAX_TOKENS = 128;
export const EVAL_DEFAULT_METHODS: readonly EvalMethod[] = ['base', 'pref', 'la', 'amulet'];

/** What `amulet eval` is asked to do: the run's settings and where its inputs and outputs are. */
export interface EvalRequest extends EvalParameters {
  /** The model to evaluate: a path, an hf: reference or a URL (default: the CLI's default model). */
  modelPath: string | undefined;
  chatTemplate: string | undefined;
  questionFiles: string[];
  limit: number | undefined;
  /** Names of the paper's preferences to use; undefined with a preference file, or for all eight. */
  preferenceNames: string[] | undefined;
  preferenceFile: string | undefined;
  methods: EvalMethod[];
  outDir: string;
  judgePath: string | undefined;
  judgeChatTemplate: string | undefined;
  threads: number | undefined;
  contextSize: number | undefined;
  /** RPC servers that take the evaluated model's layers (the judge stays local); undefined: none. */
  rpcServers: readonly string[] | undefined;
  tensorSplit: readonly number[] | undefined;
}

export type EvalCommandLine = { kind: 'help' } | { kind: 'run'; request: EvalRequest };

function list(value: string): string[] {
  return value.split(',').map((item) => item.trim()).filter((item) => item !== '');
}

function methodList(value: string | undefined): EvalMethod[] {
  if (value === undefined) return [...EVAL_DEFAULT_METHODS];
  const methods = list(value).map((name) => {
    const method = evalMethods.find((known) => known === name);
    if (!method) throw new UsageError(`--methods takes a comma-separated list of ${evalMethods.join(', ')} (got "${name}")`);
    return method;
  });
  if (methods.length === 0) throw new UsageError('--methods needs at least one method');
  return [...new Set(methods)];
}

/** Parses `amulet eval`'s arguments (without the word `eval`). */
export function parseEvalCommandLine(args: readonly string[]): EvalCommandLine {
  let values;
  try {
    ({ values } = parseArgs({ args: attachNegativeValues(args, evalOptions), options: evalOptions,
      allowPositionals: false, strict: true }));
  } catch (error) {
    throw new UsageError(parseErrorMessage(error as Error));
  }
  if (values.help) return { kind: 'help' };
  const questionFiles = values.questions ?? [];
  if (questionFiles.length === 0) {
    throw new UsageError('amulet eval needs --questions <json> (a JSON array of { index, question }; repeat for several sets)');
  }
  if (values.preferences !== undefined && values['preference-file'] !== undefined) {
    throw new UsageError('give either --preferences or --preference-file, not both');
  }
  const preferenceNames = values.preferences === undefined ? undefined : list(values.preferences);
  if (preferenceNames?.length === 0) throw new UsageError('--preferences needs at least one name');
  const number = (name: RuleName): number => {
    const rule = rules[name] as NumberRule;
    return (flagValue(rule, values[rule.flag as keyof typeof values] as string | undefined) as number | undefined) ??
      rule.default;
  };
  const given = (name: RuleName): string | undefined => values[rules[name].flag as keyof typeof values] as string | undefined;
  const request: EvalRequest = {
    modelPath: values.model,
    chatTemplate: given('chatTemplate'),
    questionFiles,
    limit: flagValue(limitRule, values.limit) as number | undefined,
    preferenceNames,
    preferenceFile: values['preference-file'],
    methods: methodList(values.methods),
    outDir: values.out ?? 'amulet-eval',
    judgePath: values.judge,
    judgeChatTemplate: values['judge-chat-template'],
    systemPrompt: given('systemPrompt') ?? rules.systemPrompt.default,
    maxTokens: given('maxTokens') === undefined ? EVAL_MAX_TOKENS : number('maxTokens'),
    alpha: number('alpha'),
    lambda: number('lambda'),
    eta: number('eta'),
    iterations: number('iterations'),
    ratio: number('ratio'),
    beams: number('beams'),
    lengthPenalty: number('lengthPenalty'),
    threads: given('threads') === undefined ? undefined : number('threads'),
    contextSize: given('contextSize') === undefined ? undefined : number('contextSize'),
    rpcServers: flagValue(rules.rpcServers, given('rpcServers')) as readonly string[] | undefined,
    tensorSplit: flagValue(rules.tensorSplit, given('tensorSplit')) as readonly number[] | undefined,
  };
  return { kind: 'run', request };
}
