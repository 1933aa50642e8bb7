/**
 * `amulet chat`'s command line: the flags of every command that runs a
 * model. Mistakes throw a {@link UsageError}.
 *
 * @packageDocumentation
 */
import { parseArgs } from 'node:util';
import { readSessionFlags, sessionCommandLineOptions, type SessionFlags } from './arguments';
import { attachNegativeValues, parseErrorMessage, UsageError } from './flags';

export const chatOptions = {
  ...sessionCommandLineOptions,
  help: { type: 'boolean', short: 'h' },
} as const;

export type ChatCommandLine = { kind: 'help' } | { kind: 'run'; request: SessionFlags };

/** Parses `amulet chat`'s arguments (without the word `chat`). */
export function parseChatCommandLine(args: readonly string[]): ChatCommandLine {
  let parsed;
  try {
    parsed = parseArgs({ args: attachNegativeValues(args, chatOptions), options: chatOptions,
      allowPositionals: false, strict: true, tokens: true });
  } catch (error) {
    throw new UsageError(parseErrorMessage(error as Error));
  }
  if (parsed.values.help) return { kind: 'help' };
  return { kind: 'run', request: readSessionFlags(parsed.values, parsed.tokens) };
}
