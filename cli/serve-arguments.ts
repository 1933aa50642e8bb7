/**
 * `amulet serve`'s command line: the flags of every command that runs a
 * model, those of the server, and the parsing into a {@link ServeRequest}.
 * Mistakes throw a {@link UsageError}.
 *
 * @packageDocumentation
 */
import { parseArgs } from 'node:util';
import { rules, type RuleName } from '../lib/option-rules';
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
  const flag = (name: RuleName): string | number | undefined =>
    flagValue(rules[name], values[rules[name].flag as keyof typeof values] as string | undefined) as string | number | undefined;
  return {
    kind: 'run',
    request: {
      ...readSessionFlags(values, tokens),
      host: (flag('host') as string | undefined) ?? rules.host.default,
      port: (flag('port') as number | undefined) ?? rules.port.default,
      parallel: (flag('parallel') as number | undefined) ?? rules.parallel.default,
      sequences: flag('sequences') as number | undefined,
      cacheSize: (flag('cacheSize') as number | undefined) ?? rules.cacheSize.default,
      queueSize: (flag('queueSize') as number | undefined) ?? rules.queueSize.default,
      apiKey: flag('apiKey') as string | undefined,
      modelName: flag('modelName') as string | undefined,
      open: values.open ?? false,
    },
  };
}
