/**
 * `amulet eval ...`: the evaluation harness, loaded only when asked for: it
 * and its NLP packages are not part of the library.
 *
 * @packageDocumentation
 */
import { UsageError } from '../../arguments';
import { EXIT_FAILURE, EXIT_SUCCESS, EXIT_USAGE, printError, runStoppable } from '../../command-process';
import { parseEvalCommandLine } from './arguments';
import { evalHelpText } from './help';

/** The evaluation's optional peer dependencies that cannot be found. */
function missingEvalPackages(): string[] {
  return ['compromise', 'sentiment', 'stopword', 'nspell', 'dictionary-en', 'dictionary-fr', 'dictionary-de',
    'dictionary-es'].filter((name) => {
    try {
      require.resolve(name);
      return false;
    } catch {
      return true;
    }
  });
}

/** `amulet eval ...`: the evaluation harness. */
export async function evalMain(args: readonly string[]): Promise<number> {
  let commandLine;
  try {
    commandLine = parseEvalCommandLine(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    printError(`${error.message} (see amulet eval --help)`);
    return EXIT_USAGE;
  }
  if (commandLine.kind === 'help') {
    process.stdout.write(evalHelpText());
    return EXIT_SUCCESS;
  }
  const { request } = commandLine;
  const missing = missingEvalPackages();
  if (missing.length > 0) {
    printError(`amulet eval scores answers with ${listed(missing)}, which ${missing.length > 1 ? 'are' : 'is'} ` +
      `not installed: npm install ${missing.join(' ')}`);
    return EXIT_FAILURE;
  }
  // Loaded only now: the harness and its NLP packages are not part of the library.
  const { EvalSetupError, runEval } = await import('./run');
  const shown = ['npx', 'amulet', 'eval', ...args].map((arg) => (/^[\w./,:=@-]+$/.test(arg) ? arg : JSON.stringify(arg)));
  return runStoppable((signal) => runEval(request, signal, shown.join(' ')),
    (error) => error instanceof EvalSetupError);
}

/** "a", "a and b", "a, b and c". */
function listed(names: readonly string[]): string {
  return names.length > 1 ? `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}` : names.join('');
}
