/**
 * `amulet rpc-server ...`: runs llama.cpp's own RPC server (built from
 * vendor/llama.cpp's tools/rpc with the addon) in the foreground, passing on
 * its output and the signals that stop it.
 *
 * @packageDocumentation
 */
import { spawn } from 'node:child_process';
import { rpcServerPath } from '../../lib/index';
import { EXIT_FAILURE, EXIT_SUCCESS, EXIT_USAGE, printError } from '../command-process';
import { UsageError } from '../flags';
import { parseRpcServerCommandLine, rpcServerArguments, rpcServerHelpText } from '../rpc-server-arguments';

/** `amulet rpc-server ...`: returns the exit code once the worker has stopped. */
export async function rpcServerMain(args: readonly string[]): Promise<number> {
  let commandLine;
  try {
    commandLine = parseRpcServerCommandLine(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    printError(`${error.message} (see amulet rpc-server --help)`);
    return EXIT_USAGE;
  }
  if (commandLine.kind === 'help') {
    process.stdout.write(rpcServerHelpText());
    return EXIT_SUCCESS;
  }
  let executable;
  try {
    executable = rpcServerPath();
  } catch (error) {
    printError((error as Error).message);
    return EXIT_FAILURE;
  }
  const { request } = commandLine;
  const worker = spawn(executable, rpcServerArguments(request), { stdio: 'inherit' });
  // The worker runs until it is stopped: the signals that stop this command stop it too.
  let stopping = false;
  const stop = (signal: NodeJS.Signals): void => {
    stopping = true;
    worker.kill(signal);
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const signal of signals) process.on(signal, stop);
  try {
    return await new Promise<number>((resolve) => {
      worker.on('error', (error) => {
        printError(`cannot start ${executable}: ${error.message}`);
        resolve(EXIT_FAILURE);
      });
      worker.on('exit', (code, signal) => {
        if (stopping) {
          resolve(EXIT_SUCCESS);
          return;
        }
        // llama.cpp's server returns only when it could not listen.
        printError(`the RPC server stopped (${signal ?? `exit code ${code}`}): is port ${request.port} ` +
          `on ${request.host} already in use?`);
        resolve(EXIT_FAILURE);
      });
    });
  } finally {
    for (const signal of signals) process.off(signal, stop);
  }
}
