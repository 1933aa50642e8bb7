/**
 * `amulet "<question>"`: asks the model one question and streams its answer,
 * realigned toward the user's preferences while it decodes; `--compare` puts
 * base, pref and the realigned answer side by side.
 *
 * @packageDocumentation
 */
import type { GenerationResult, Model, RealignMethod, Session, TextChunk } from '../../lib/index';
import { parseCommandLine, UsageError, type RunRequest } from '../arguments';
import { EXIT_SUCCESS, EXIT_USAGE, printError, runStoppable } from '../command-process';
import { answerStatistics, renderComparison } from '../compare-view';
import { helpText } from '../help-text';
import { loadModelWithProgress } from '../model-loading';
import { packageVersion } from '../package-version';
import { ProgressBar } from '../progress-bar';
import { traceReport, tracedTokensOf, type TracedToken } from '../trace-report';

/** One decoded answer and, with `--trace`, its per-token trace. */
interface DecodedAnswer {
  result: GenerationResult;
  tracedTokens: TracedToken[];
}

/**
 * Decodes one answer with `method`, handing each chunk to `onChunk` as it
 * arrives. Rejects with `ERR_ABORTED` when `signal` fires.
 */
async function decodeAnswer(
  session: Session,
  request: RunRequest,
  method: RealignMethod,
  signal: AbortSignal,
  onChunk: (chunk: TextChunk) => void,
): Promise<DecodedAnswer> {
  // A session remembers the conversation; every answer here is to the question alone.
  session.clearHistory();
  const stream = session.prompt(request.question, {
    method,
    maxTokens: request.maxTokens,
    signal,
    trace: request.trace,
    ...request.outputControls,
  });
  const tracedTokens: TracedToken[] = [];
  for await (const chunk of stream) {
    onChunk(chunk);
    tracedTokens.push(...tracedTokensOf(chunk));
  }
  return { result: await stream.result, tracedTokens };
}

/** Streams one answer to stdout as it is decoded, ending it with a line break. */
async function streamAnswer(
  session: Session,
  request: RunRequest,
  method: RealignMethod,
  signal: AbortSignal,
): Promise<DecodedAnswer> {
  let endsLine = true;
  try {
    return await decodeAnswer(session, request, method, signal, (chunk) => {
      if (chunk.text === '') return;
      process.stdout.write(chunk.text);
      endsLine = chunk.text.endsWith('\n');
    });
  } finally {
    // Also after Ctrl-C, so the shell prompt does not start mid-line.
    if (!endsLine) process.stdout.write('\n');
  }
}

/** Decodes without printing, showing `<method> [bar] n%` of --max-tokens on a terminal's stderr. */
async function collectAnswer(
  session: Session,
  request: RunRequest,
  method: RealignMethod,
  signal: AbortSignal,
): Promise<DecodedAnswer> {
  const bar = process.stderr.isTTY ? new ProgressBar(process.stderr) : undefined;
  let generatedTokenCount = 0;
  try {
    return await decodeAnswer(session, request, method, signal, (chunk) => {
      generatedTokenCount += chunk.tokens.length;
      bar?.update(`answering with ${method}`, generatedTokenCount / request.maxTokens);
    });
  } finally {
    bar?.clear();
  }
}

/** The methods to run: base, pref and the realigning one with --compare, else just --method. */
function methodsToRun(request: RunRequest): RealignMethod[] {
  return request.compare ? ['base', 'pref', request.method] : [request.method];
}

/** The single JSON object `--json` prints. */
function jsonReport(request: RunRequest, model: Model, answers: readonly DecodedAnswer[]): string {
  const report = {
    question: request.question,
    preferences: request.preferences,
    method: request.method,
    compare: request.compare,
    parameters: {
      ...request.realign,
      maxTokens: request.maxTokens,
      systemPrompt: request.systemPrompt,
      // Only the sampling settings that were given; the rest are the library's (greedy decoding).
      sampling: request.sampling,
      // Only the output controls that were given.
      outputControls: request.outputControls,
      contextSize: request.contextSize ?? null,
      threads: request.threads ?? null,
    },
    model: {
      path: model.path,
      description: model.info.description,
      offloadedLayers: model.info.offloadedLayers,
      outputOnGpu: model.info.outputOnGpu,
      devices: model.info.devices,
    },
    runs: answers.map(({ result }) => ({
      method: result.method,
      text: result.text,
      generatedTokenCount: result.generatedTokenCount,
      tokensPerSecond: result.tokensPerSecond,
      finishReason: result.finishReason,
      stopString: result.stopString ?? null,
      guidanceScale: result.guidanceScale,
      realignedOn: result.realignedOn,
    })),
  };
  return `${JSON.stringify(report, null, 2)}\n`;
}

/** Decodes and prints what the request asks for on a loaded model. */
async function answerWithModel(model: Model, request: RunRequest, signal: AbortSignal): Promise<void> {
  const session = model.createSession({
    systemPrompt: request.systemPrompt,
    preferences: request.preferences,
    ...request.realign,
    sampling: request.sampling,
    contextSize: request.contextSize,
    threads: request.threads,
    batchSize: request.batchSize,
    realignOn: request.realignOn,
  });
  const streams = !request.json && !request.compare;
  const answers: DecodedAnswer[] = [];
  for (const method of methodsToRun(request)) {
    answers.push(streams
      ? await streamAnswer(session, request, method, signal)
      : await collectAnswer(session, request, method, signal));
  }

  if (request.json) {
    process.stdout.write(jsonReport(request, model, answers));
  } else if (request.compare) {
    const columns = process.stdout.isTTY ? process.stdout.columns : undefined;
    process.stdout.write(renderComparison(answers.map(({ result }) => result), columns));
  } else if (process.stderr.isTTY) {
    process.stderr.write(`\x1b[2m[${answerStatistics(answers[0]!.result)}]\x1b[0m\n`);
  }
  if (request.trace) {
    for (const { result, tracedTokens } of answers) process.stderr.write(traceReport(result.method, tracedTokens));
  }
}

/** Fetches or loads the model, answers, and always frees the model. */
async function runRequest(request: RunRequest, signal: AbortSignal): Promise<void> {
  // A download stops at a Ctrl-C; loading the weights cannot, and a Ctrl-C then takes effect once it is done.
  const model = await loadModelWithProgress(request.modelPath, {
    chatTemplate: request.chatTemplate, gpuLayers: request.gpuLayers, rpcServers: request.rpcServers,
    tensorSplit: request.tensorSplit, signal,
  });
  try {
    if (!signal.aborted) await answerWithModel(model, request, signal);
  } finally {
    await model.dispose();
  }
}

/** `amulet [options] "<question>"`: returns the exit code. */
export async function askMain(args: readonly string[]): Promise<number> {
  let commandLine;
  try {
    commandLine = parseCommandLine(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    printError(`${error.message} (see amulet --help)`);
    return EXIT_USAGE;
  }
  if (commandLine.kind === 'help') {
    process.stdout.write(helpText());
    return EXIT_SUCCESS;
  }
  if (commandLine.kind === 'version') {
    process.stdout.write(`${packageVersion()}\n`);
    return EXIT_SUCCESS;
  }

  const { request } = commandLine;
  return runStoppable((signal) => runRequest(request, signal));
}

