/**
 * What every `amulet` command shares: exit codes, error lines on stderr, and
 * running a task that Ctrl-C or a closed stdout stops cleanly.
 *
 * @packageDocumentation
 */
import { isAmuletError } from '../lib/index';

export const EXIT_SUCCESS = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** 128 + SIGINT, what shells report for a command stopped by Ctrl-C. */
export const EXIT_INTERRUPTED = 130;

/** Why a run was stopped early. */
type StopReason = 'interrupted' | 'output-closed';

/** Prints `amulet: <message>` on stderr. */
export function printError(message: string): void {
  process.stderr.write(`amulet: ${message}\n`);
}

/**
 * Stops the run on the first Ctrl-C (through `controller`, so the generation
 * ends cleanly and the model is freed) and exits at once on a second one,
 * for when the first cannot take effect (e.g. during a download).
 * Returns the function that removes the handler.
 */
function stopOnInterrupt(controller: AbortController): () => void {
  const onInterrupt = (): void => {
    if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED);
    controller.abort('interrupted' satisfies StopReason);
  };
  process.on('SIGINT', onInterrupt);
  return () => process.off('SIGINT', onInterrupt);
}

/**
 * Stops the run when stdout's reader goes away (`amulet ... | head`): there
 * is no one left to write the answer for. The handler stays for the life of
 * the process, since a write's EPIPE is reported after the write returns.
 */
function stopOnClosedOutput(controller: AbortController): void {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    controller.abort('output-closed' satisfies StopReason);
  });
}

/**
 * Runs a stoppable task, mapping failures to exit codes as `amulet` does:
 * those `isUsageError` accepts exit with the usage code.
 */
export async function runStoppable(task: (signal: AbortSignal) => Promise<void>,
  isUsageError: (error: unknown) => boolean = () => false): Promise<number> {
  const controller = new AbortController();
  const removeInterruptHandler = stopOnInterrupt(controller);
  stopOnClosedOutput(controller);
  try {
    await task(controller.signal);
  } catch (error) {
    // Whatever failed after a stop request (ERR_ABORTED, or pip killed by the same Ctrl-C) is the stop itself.
    if (!controller.signal.aborted) {
      printError(isAmuletError(error) ? `${error.code}: ${error.message}`
        : error instanceof Error ? error.message : String(error));
      return isUsageError(error) ? EXIT_USAGE : EXIT_FAILURE;
    }
  } finally {
    removeInterruptHandler();
  }
  const stopReason = controller.signal.reason as StopReason | undefined;
  if (stopReason === 'interrupted') return EXIT_INTERRUPTED;
  return EXIT_SUCCESS;
}

