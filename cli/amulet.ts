#!/usr/bin/env node
/**
 * `amulet`: the command line of amulet-llm. The first argument picks the
 * command; each lives in cli/commands/ and is loaded only when it runs.
 *
 * @packageDocumentation
 */
import { EXIT_FAILURE, printError } from './command-process';

/** The commands besides asking one question, by the word that selects them. */
const commands: Record<string, () => Promise<(args: readonly string[]) => Promise<number>>> = {
  eval: async () => (await import('./commands/eval/main')).evalMain,
  serve: async () => (await import('./commands/serve')).serveMain,
  chat: async () => (await import('./commands/chat')).chatMain,
  'rpc-server': async () => (await import('./commands/rpc-server')).rpcServerMain,
};

/** Runs the command line and returns the exit code. */
async function main(args: readonly string[]): Promise<number> {
  const command = args[0] === undefined ? undefined : commands[args[0]];
  if (command) return (await command())(args.slice(1));
  return (await import('./commands/ask')).askMain(args);
}

main(process.argv.slice(2)).then(
  (exitCode) => {
    process.exitCode = exitCode;
  },
  (error: unknown) => {
    printError(`unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exitCode = EXIT_FAILURE;
  },
);
