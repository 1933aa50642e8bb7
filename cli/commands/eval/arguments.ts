/**
 * `amulet eval`'s command line: its options and the parsing that turns argv
 * into an {@link EvalRequest}. Mistakes throw a {@link UsageError}.
 *
 * @packageDocumentation
 */
import { parseArgs } from 'node:util';
import { isAmuletError } from '../../../lib/index';
import { rules, type NumberRule, type OptionRule, type RuleName } from '../../../lib/option-rules';
import { preferenceSetNames, type PreferenceSetName } from '../../../eval/preference-sets';
import type { EvalParameters } from '../../../eval/runner';
import type { Reference } from '../../../eval/scores';
import { evalMethods, methodVariant, parseVariant, type EvalMethod, type EvalVariant } from '../../../eval/variants';
import { attachNegativeValues, flagValue, parseErrorMessage, ruleFlags, UsageError } from '../../flags';

/** The library options `amulet eval` takes as flags, in help order. */
export const evalRuleFlags: readonly RuleName[] = [
  'chatTemplate', 'maxTokens', 'systemPrompt', 'alpha', 'lambda', 'eta', 'iterations', 'ratio', 'plausibility', 'klBudget',
  'beams', 'lengthPenalty', 'threads', 'contextSize', 'parallel', 'rpcServers', 'tensorSplit',
];

export const evalOptions = {
  model: { type: 'string' },
  questions: { type: 'string', multiple: true },
  limit: { type: 'string' },
  preferences: { type: 'string' },
  'preference-set': { type: 'string' },
  'preference-file': { type: 'string' },
  methods: { type: 'string' },
  variant: { type: 'string', multiple: true },
  out: { type: 'string' },
  judge: { type: 'boolean' },
  'judge-model': { type: 'string' },
  'judge-against': { type: 'string' },
  'judge-chat-template': { type: 'string' },
  'no-fluency': { type: 'boolean' },
  'stored-only': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  ...ruleFlags(evalRuleFlags),
} as const;

/** How many questions of each set to take: an option of the harness, not of the library. */
const limitRule: NumberRule<never> = {
  kind: 'number', name: 'limit', flag: 'limit', integer: true, min: 1, max: 1_000_000, default: 1_000_000,
  description: 'The first n questions of each set',
};

/** The paper's generation length (docs/algorithm.md), the default here. */
export const EVAL_MAX_TOKENS = 128;
export const EVAL_DEFAULT_METHODS: readonly EvalMethod[] = ['base', 'pref', 'la', 'amulet'];

/** The judge `--judge` uses without `--judge-model`: the Qwen2.5-Coder-1.5B-Instruct fixture's file on Hugging Face. */
export const DEFAULT_JUDGE_MODEL = 'hf:Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf';

/** What `amulet eval` is asked to do: the run's settings and where its inputs and outputs are. */
export interface EvalRequest extends EvalParameters {
  /** The model to evaluate: a path, an hf: reference or a URL (default: the CLI's default model). */
  modelPath: string | undefined;
  chatTemplate: string | undefined;
  questionFiles: string[];
  limit: number | undefined;
  /** Names of preferences of the chosen sets to use; undefined for all of them. */
  preferenceNames: string[] | undefined;
  /** The built-in sets to take preferences from (default: the paper's). */
  preferenceSets: PreferenceSetName[];
  preferenceFile: string | undefined;
  /** The plain methods of --methods, then the --variant ones. */
  variants: EvalVariant[];
  outDir: string;
  /** The judge model, when the answers are to be judged. */
  judgePath: string | undefined;
  judgeChatTemplate: string | undefined;
  /** The references each variant's answers are judged against (default both). */
  judgeAgainst: Reference[];
  /** Score every answer's fluency (mean NLL under the plain prompt); on unless --no-fluency. */
  fluency: boolean;
  /** Produce no answer: score, judge and report those the folder holds (--stored-only). */
  storedOnly: boolean;
  threads: number | undefined;
  contextSize: number | undefined;
  /** Answers produced together on one shared context (--parallel, default 1). */
  parallel: number;
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

function variantList(methods: readonly EvalMethod[], specs: readonly string[]): EvalVariant[] {
  const variants = methods.map(methodVariant);
  for (const spec of specs) {
    let variant: EvalVariant;
    try {
      variant = parseVariant(spec);
    } catch (error) {
      if (isAmuletError(error)) throw new UsageError(`--variant: ${error.message}`);
      throw error;
    }
    if (variants.some((known) => known.name === variant.name)) throw new UsageError(`--variant ${variant.name} is named twice`);
    variants.push(variant);
  }
  return variants;
}

function referenceList(value: string | undefined): Reference[] {
  if (value === undefined) return ['pref', 'base'];
  const references = list(value).map((name) => {
    if (name !== 'pref' && name !== 'base') throw new UsageError(`--judge-against takes pref, base or both (got "${name}")`);
    return name;
  });
  if (references.length === 0) throw new UsageError('--judge-against needs pref, base or both');
  return [...new Set(references)];
}

function setList(value: string | undefined): PreferenceSetName[] {
  if (value === undefined) return ['paper'];
  const sets = list(value).map((name) => {
    const set = preferenceSetNames.find((known) => known === name);
    if (!set) throw new UsageError(`--preference-set takes a comma-separated list of ${preferenceSetNames.join(', ')} (got "${name}")`);
    return set;
  });
  if (sets.length === 0) throw new UsageError('--preference-set needs at least one set');
  return [...new Set(sets)];
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
  if (values['preference-file'] !== undefined && (values.preferences !== undefined || values['preference-set'] !== undefined)) {
    throw new UsageError('give either --preference-file or --preferences / --preference-set, not both');
  }
  for (const flag of ['judge-model', 'judge-against', 'judge-chat-template'] as const) {
    if (values[flag] !== undefined && !values.judge) throw new UsageError(`--${flag} needs --judge`);
  }
  const preferenceNames = values.preferences === undefined ? undefined : list(values.preferences);
  if (preferenceNames?.length === 0) throw new UsageError('--preferences needs at least one name');
  // The table's flags are known by name only at run time.
  const given = (rule: OptionRule): string | undefined => values[rule.flag as keyof typeof values] as string | undefined;
  const number = (rule: NumberRule<never>): number => flagValue(rule, given(rule)) ?? rule.default;
  const request: EvalRequest = {
    modelPath: values.model,
    chatTemplate: given(rules.chatTemplate),
    questionFiles,
    limit: flagValue(limitRule, values.limit),
    preferenceNames,
    preferenceSets: setList(values['preference-set']),
    preferenceFile: values['preference-file'],
    variants: variantList(methodList(values.methods), values.variant ?? []),
    outDir: values.out ?? 'amulet-eval',
    judgePath: values.judge ? values['judge-model'] ?? DEFAULT_JUDGE_MODEL : undefined,
    judgeChatTemplate: values['judge-chat-template'],
    judgeAgainst: referenceList(values['judge-against']),
    fluency: !values['no-fluency'],
    storedOnly: values['stored-only'] ?? false,
    systemPrompt: given(rules.systemPrompt) ?? rules.systemPrompt.default,
    maxTokens: given(rules.maxTokens) === undefined ? EVAL_MAX_TOKENS : number(rules.maxTokens),
    alpha: number(rules.alpha),
    lambda: number(rules.lambda),
    eta: number(rules.eta),
    iterations: number(rules.iterations),
    ratio: number(rules.ratio),
    plausibility: number(rules.plausibility),
    klBudget: number(rules.klBudget),
    beams: number(rules.beams),
    lengthPenalty: number(rules.lengthPenalty),
    threads: given(rules.threads) === undefined ? undefined : number(rules.threads),
    contextSize: given(rules.contextSize) === undefined ? undefined : number(rules.contextSize),
    parallel: number(rules.parallel),
    rpcServers: flagValue(rules.rpcServers, given(rules.rpcServers)),
    tensorSplit: flagValue(rules.tensorSplit, given(rules.tensorSplit)),
  };
  return { kind: 'run', request };
}
