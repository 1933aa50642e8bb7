/**
 * Running the compiled `amulet` command as users run it: compiling it first,
 * then spawning it with arguments, watching its output as it comes.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';

export const root = resolve(__dirname, '..', '..');
export const cliPath = join(root, 'dist', 'cli', 'amulet.js');

/** What a finished CLI process left behind. */
export interface CliOutcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The CLI's output so far, handed to the watchers below as it arrives. */
export interface CliWatch {
  child: ChildProcess;
  stdout: string;
  stderr: string;
}

/**
 * Compiles the TypeScript so the CLI runs as users run it. Others may be
 * mid-edit in lib/ or scripts/; tsc still emits then, so only errors in cli/ count.
 */
export function compileCli(): void {
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], {
      cwd: root,
      encoding: 'utf8',
      stdio: 'pipe',
    });
  } catch (error) {
    const output = String((error as { stdout?: string }).stdout ?? error);
    if (/(^|\n)cli\//.test(output)) throw new Error(`the CLI does not compile:\n${output}`);
  }
}

/**
 * Runs the compiled CLI with `args`. `onStdout` and `onStderr` see the output
 * so far each time more arrives, with the child process, so a test can write
 * to its stdin or signal it mid-run. Stdin stays open (a pipe) until the test ends it.
 */
export function runCli(args: readonly string[], watchers: {
  onStdout?: (watch: CliWatch) => void;
  onStderr?: (watch: CliWatch) => void;
  stdin?: 'ignore' | 'pipe';
} = {}): { child: ChildProcess; outcome: Promise<CliOutcome> } {
  const child = spawn(process.execPath, [cliPath, ...args], { cwd: root, stdio: [watchers.stdin ?? 'ignore', 'pipe', 'pipe'] });
  const watch: CliWatch = { child, stdout: '', stderr: '' };
  const outcome = new Promise<CliOutcome>((resolveOutcome, rejectOutcome) => {
    child.stdout!.setEncoding('utf8').on('data', (text: string) => {
      watch.stdout += text;
      watchers.onStdout?.(watch);
    });
    child.stderr!.setEncoding('utf8').on('data', (text: string) => {
      watch.stderr += text;
      watchers.onStderr?.(watch);
    });
    child.on('error', rejectOutcome);
    child.on('close', (code, signal) => resolveOutcome({ code, signal, stdout: watch.stdout, stderr: watch.stderr }));
  });
  return { child, outcome };
}
