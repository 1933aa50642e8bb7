/**
 * `amulet eval`'s command line: its options and the parsing that turns argv
 * into an {@link EvalRequest}. Mistakes throw a {@link UsageError}.
 *
 * @packageDocumentation
 */
import { parseArgs } from 'node:util';
import { defaults } from '../lib/index';
import { evalMethods, type EvalMethod } from '../eval/plan';
import type { EvalParameters } from '../eval/runner';
import { UsageError } from './arguments';

export const evalOptions = {
  model: { type: 'string' },
  'chat-template': { type: 'string' },
  questions: { type: 'string', multiple: true },
  limit: { type: 'string' },
  preferences: { type: 'string' },
  'preference-file': { type: 'string' },
  methods: { type: 'string' },
  out: { type: 'string' },
  judge: { type: 'string' },
  'judge-chat-template': { type: 'string' },
  'max-tokens': { type: 'string' },
  system: { type: 'string' },
  alpha: { type: 'string' },
  lambda: { type: 'string' },
  eta: { type: 'string' },
  iterations: { type: 'string' },
  ratio: { type: 'string' },
  beams: { type: 'string' },
  'length-penalty': { type: 'string' },
  threads: { type: 'string' },
  'context-size': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The paper's generation length (ALGORITHM.md), the default here. */
export const EVAL_MAX_TOKENS = 128;
export const EVAL_DEFAULT_METHODS: readonly EvalMethod[] = ['base', 'pref', 'la', 'amulet'];

/** What `amulet eval` is asked to do: the run's settings and where its inputs and outputs are. */
export interface EvalRequest extends EvalParameters {
  /** Undefined: the SmolLM2 fixture model. */
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
}

export type EvalCommandLine = { kind: 'help' } | { kind: 'run'; request: EvalRequest };

function numeric(name: string, value: string | undefined, integer: boolean, accepts: (n: number) => boolean,
  requirement: string): number | undefined {
  if (value === undefined) return undefined;
  const pattern = integer ? /^\d+$/ : /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
  const parsed = pattern.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isFinite(parsed) || !accepts(parsed)) throw new UsageError(`--${name} must be ${requirement} (got ${JSON.stringify(value)})`);
  return parsed;
}

const positive = (n: number): boolean => n > 0;

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
    ({ values } = parseArgs({ args: [...args], options: evalOptions, allowPositionals: false, strict: true }));
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/\s*\n\s*/g, ' ').trim());
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
  const request: EvalRequest = {
    modelPath: values.model,
    chatTemplate: values['chat-template'],
    questionFiles,
    limit: numeric('limit', values.limit, true, positive, 'an integer >= 1'),
    preferenceNames,
    preferenceFile: values['preference-file'],
    methods: methodList(values.methods),
    outDir: values.out ?? 'amulet-eval',
    judgePath: values.judge,
    judgeChatTemplate: values['judge-chat-template'],
    systemPrompt: values.system ?? defaults.systemPrompt,
    maxTokens: numeric('max-tokens', values['max-tokens'], true, (n) => n >= 1 && n <= 1 << 16, 'an integer from 1 to 65536')
      ?? EVAL_MAX_TOKENS,
    alpha: numeric('alpha', values.alpha, false, positive, 'a number > 0') ?? defaults.alpha,
    lambda: numeric('lambda', values.lambda, false, positive, 'a number > 0') ?? defaults.lambda,
    eta: numeric('eta', values.eta, false, positive, 'a number > 0') ?? defaults.eta,
    iterations: numeric('iterations', values.iterations, true, (n) => n >= 1 && n <= 10_000, 'an integer from 1 to 10000')
      ?? defaults.iterations,
    ratio: numeric('ratio', values.ratio, false, (n) => n >= 0, 'a number >= 0') ?? defaults.ratio,
    beams: numeric('beams', values.beams, true, (n) => n >= 1 && n <= 128, 'an integer from 1 to 128') ?? 16,
    lengthPenalty: numeric('length-penalty', values['length-penalty'], false, (n) => n >= 0, 'a number >= 0') ?? 1,
    threads: numeric('threads', values.threads, true, (n) => n >= 1 && n <= 1024, 'an integer from 1 to 1024'),
    contextSize: numeric('context-size', values['context-size'], true, (n) => n >= 64, 'an integer >= 64'),
  };
  return { kind: 'run', request };
}
