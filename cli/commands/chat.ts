/**
 * `amulet chat`: an interactive conversation on one session. Each line is a
 * message (answered as it streams) or a slash command (cli/chat-line.ts)
 * that changes the preferences or the method between turns.
 *
 * @packageDocumentation
 */
import { createInterface, type Interface } from 'node:readline';
import { isAmuletError, type Model, type Session } from '../../lib/index';
import type { SessionFlags } from '../arguments';
import { effectiveMethod, readChatLine, type ChatSettings } from '../chat-line';
import { parseChatCommandLine } from '../chat-arguments';
import { chatHelpText } from '../chat-help';
import { EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_SUCCESS, EXIT_USAGE, printError } from '../command-process';
import { answerStatistics } from '../compare-view';
import { UsageError } from '../flags';
import { loadModelWithProgress } from '../model-loading';

/** A note on stderr (dimmed on a terminal), apart from the answers on stdout. */
function note(text: string): void {
  process.stderr.write(process.stderr.isTTY ? `\x1b[2m${text}\x1b[0m\n` : `${text}\n`);
}

/**
 * What Ctrl-C does depends on the moment: while the model loads it stops
 * the load (a second one exits at once), while an answer is written it stops
 * the answer, at the prompt it leaves.
 */
class Interrupts {
  readonly loading = new AbortController();
  #answer: AbortController | undefined;
  #prompt: Interface | undefined;

  readonly handle = (): void => {
    if (this.#answer) {
      this.#answer.abort();
    } else if (this.#prompt) {
      this.#prompt.close();
    } else if (this.loading.signal.aborted) {
      process.exit(EXIT_INTERRUPTED);
    } else {
      this.loading.abort();
    }
  };

  /** From now on, Ctrl-C with no answer running closes `prompt`. */
  prompting(prompt: Interface): void {
    this.#prompt = prompt;
  }

  /** A signal that Ctrl-C fires during the answer `run` writes. */
  async answering(run: (signal: AbortSignal) => Promise<void>): Promise<void> {
    this.#answer = new AbortController();
    try {
      await run(this.#answer.signal);
    } finally {
      this.#answer = undefined;
    }
  }
}

/** Streams the answer to `text` to stdout; a stopped or failed answer leaves the conversation as it was. */
async function answer(session: Session, text: string, settings: ChatSettings, request: SessionFlags,
  signal: AbortSignal): Promise<void> {
  let endsLine = true;
  try {
    const stream = session.prompt(text, {
      preferences: settings.preferences, method: effectiveMethod(settings), maxTokens: request.maxTokens, signal,
    });
    for await (const chunk of stream) {
      if (chunk.text === '') continue;
      process.stdout.write(chunk.text);
      endsLine = chunk.text.endsWith('\n');
    }
    const result = await stream.result;
    if (!endsLine) process.stdout.write('\n');
    if (process.stderr.isTTY) note(`[${answerStatistics(result)}]`);
  } catch (error) {
    if (!endsLine) process.stdout.write('\n');
    if (signal.aborted) {
      note('[stopped]');
    } else {
      printError(isAmuletError(error) ? `${error.code}: ${error.message}` : String(error));
    }
  }
}

/** Reads lines until /exit, the end of input or a Ctrl-C at the prompt. */
async function converse(model: Model, request: SessionFlags, interrupts: Interrupts): Promise<void> {
  const session = model.createSession({
    systemPrompt: request.systemPrompt,
    ...request.realign,
    sampling: request.sampling,
    contextSize: request.contextSize,
    contextOverflow: 'dropOldestTurns',
    threads: request.threads,
    batchSize: request.batchSize,
    realignOn: request.realignOn,
  });
  let settings: ChatSettings = { preferences: request.preferences, method: request.method };
  const interactive = process.stdin.isTTY === true && process.stdout.isTTY === true;
  const prompt = createInterface({ input: process.stdin, output: process.stdout, terminal: interactive, prompt: '> ' });
  // On a terminal readline reads Ctrl-C as a key and reports it here, not as a signal.
  prompt.on('SIGINT', interrupts.handle);
  interrupts.prompting(prompt);
  note(`amulet chat: ${model.info.description}; method ${effectiveMethod(settings)}, ` +
    `${settings.preferences.length} preference(s); /help lists the commands`);
  const ask = (): void => {
    if (interactive) prompt.prompt();
  };
  ask();
  for await (const line of prompt) {
    const command = readChatLine(line, settings);
    switch (command.kind) {
      case 'message':
        await interrupts.answering((signal) => answer(session, command.text, settings, request, signal));
        break;
      case 'settings':
        settings = command.settings;
        note(command.note);
        break;
      case 'reset':
        session.clearHistory();
        note('conversation forgotten');
        break;
      case 'show':
        process.stdout.write(`${command.text}\n`);
        break;
      case 'error':
        printError(command.message);
        break;
      case 'exit':
        prompt.close();
        break;
      case 'nothing':
        break;
    }
    ask();
  }
}

/** Loads the model and converses; the model is freed however the conversation ends. */
async function chat(request: SessionFlags): Promise<number> {
  const interrupts = new Interrupts();
  process.on('SIGINT', interrupts.handle);
  let model: Model | undefined;
  try {
    model = await loadModelWithProgress(request.modelPath, {
      chatTemplate: request.chatTemplate, gpuLayers: request.gpuLayers, rpcServers: request.rpcServers,
      tensorSplit: request.tensorSplit, signal: interrupts.loading.signal,
    });
    if (interrupts.loading.signal.aborted) return EXIT_INTERRUPTED;
    await converse(model, request, interrupts);
    return EXIT_SUCCESS;
  } catch (error) {
    if (interrupts.loading.signal.aborted) return EXIT_INTERRUPTED;
    printError(isAmuletError(error) ? `${error.code}: ${error.message}` : (error as Error).message);
    return isAmuletError(error, 'ERR_INVALID_OPTION') ? EXIT_USAGE : EXIT_FAILURE;
  } finally {
    await model?.dispose();
    process.off('SIGINT', interrupts.handle);
  }
}

/** `amulet chat ...`: returns the exit code. */
export async function chatMain(args: readonly string[]): Promise<number> {
  let commandLine;
  try {
    commandLine = parseChatCommandLine(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    printError(`${error.message} (see amulet chat --help)`);
    return EXIT_USAGE;
  }
  if (commandLine.kind === 'help') {
    process.stdout.write(chatHelpText());
    return EXIT_SUCCESS;
  }
  return chat(commandLine.request);
}
