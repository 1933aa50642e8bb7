/**
 * `amulet serve`'s command line: the flags of every command that runs a
 * model, those of the server, and the parsing into a {@link ServeRequest}.
 * Mistakes throw a {@link UsageError}.
 *
 * @packageDocumentation
 */
import { parseArgs } from 'node:util';
import { rules, type NumberRule, type OptionRule, type RuleName, type TextRule } from '../lib/option-rules';
import { readSessionFlags, sessionCommandLineOptions, type SessionFlags } from './arguments';
import { attachNegativeValues, flagValue, parseErrorMessage, ruleFlags, UsageError } from './flags';

/** The library's server options `amulet serve` takes as flags, in help order. */
export const serverFlags: readonly RuleName[] = ['host', 'port', 'parallel', 'sequences', 'cacheSize', 'queueSize',
  'apiKey', 'modelName'];

export const serveOptions = {
  ...sessionCommandLineOptions,
  ...ruleFlags(serverFlags),
  open: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** What `amulet serve` is asked to do. */
export interface ServeRequest extends SessionFlags {
  host: string;
  port: number;
  parallel: number;
  /** undefined: the server's default for `parallel` and the preferences. */
  sequences: number | undefined;
  cacheSize: number;
  queueSize: number;
  /** undefined: the library reads $AMULET_API_KEY. */
  apiKey: string | undefined;
  modelName: string | undefined;
  /** `--open`: open the playground in a browser once listening. */
  open: boolean;
}

export type ServeCommandLine = { kind: 'help' } | { kind: 'run'; request: ServeRequest };

/** Parses `amulet serve`'s arguments (without the word `serve`). */
export function parseServeCommandLine(args: readonly string[]): ServeCommandLine {
  let parsed;
  try {
    parsed = parseArgs({ args: attachNegativeValues(args, serveOptions), options: serveOptions,
      allowPositionals: false, strict: true, tokens: true });
  } catch (error) {
    throw new UsageError(parseErrorMessage(error as Error));
  }
  const { values, tokens } = parsed;
  if (values.help) return { kind: 'help' };
  // The table's flags are known by name only at run time.
  const given = (rule: OptionRule): string | undefined => values[rule.flag as keyof typeof values] as string | undefined;
  const text = (rule: TextRule): string | undefined => flagValue(rule, given(rule));
  const number = (rule: NumberRule<never>): number | undefined => flagValue(rule, given(rule));
  return {
    kind: 'run',
    request: {
      ...readSessionFlags(values, tokens),
      host: text(rules.host) ?? rules.host.default,
      port: number(rules.port) ?? rules.port.default,
      parallel: number(rules.parallel) ?? rules.parallel.default,
      sequences: number(rules.sequences),
      cacheSize: number(rules.cacheSize) ?? rules.cacheSize.default,
      queueSize: number(rules.queueSize) ?? rules.queueSize.default,
      apiKey: text(rules.apiKey),
      modelName: text(rules.modelName),
      open: values.open ?? false,
    },
  };
}
