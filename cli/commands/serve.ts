/**
 * `amulet serve`: loads a model and serves it over an OpenAI-compatible HTTP
 * API until Ctrl-C or SIGTERM, logging one line per request on stderr.
 *
 * @packageDocumentation
 */
import { createServer, isAmuletError, type AmuletServer, type Model, type ServerRequestRecord } from '../../lib/index';
import { EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_SUCCESS, EXIT_USAGE, printError } from '../command-process';
import { UsageError } from '../flags';
import { loadModelWithProgress } from '../model-loading';
import { browserUrl, openBrowser } from '../open-browser';
import { parseServeCommandLine, type ServeRequest } from '../serve-arguments';
import { serveHelpText } from '../serve-help';

/** One access-log line: method, path, status, time and, for a completion, its slot, method, tokens and outcome. */
function logLine(record: ServerRequestRecord): string {
  const parts = [record.method, record.path, String(record.status), `${record.durationMs.toFixed(0)} ms`];
  const completion = record.completion;
  if (completion) {
    parts.push(`slot ${completion.slot}`, completion.method, `${completion.promptTokens} prompt tokens ` +
      `(${completion.cachedTokens} cached)`, `${completion.completionTokens} generated`, completion.outcome);
  }
  if (record.error !== undefined) parts.push(`error: ${record.error}`);
  return `amulet: ${parts.join('  ')}\n`;
}

/** Resolves on the first SIGINT or SIGTERM; a second one exits at once (for a stop that cannot take effect). */
function stopRequested(): { stopped: Promise<void>; remove: () => void } {
  let stop!: () => void;
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  let requested = false;
  const onSignal = (): void => {
    if (requested) process.exit(EXIT_INTERRUPTED);
    requested = true;
    stop();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return { stopped, remove: () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  } };
}

async function startServer(model: Model, request: ServeRequest): Promise<AmuletServer> {
  const server = createServer(model, {
    host: request.host,
    port: request.port,
    parallel: request.parallel,
    sequences: request.sequences,
    cacheSize: request.cacheSize,
    queueSize: request.queueSize,
    apiKey: request.apiKey,
    modelName: request.modelName,
    systemPrompt: request.systemPrompt,
    preferences: request.preferences,
    method: request.method,
    ...request.realign,
    sampling: request.sampling,
    maxTokens: request.maxTokens,
    contextSize: request.contextSize,
    threads: request.threads,
    batchSize: request.batchSize,
    realignOn: request.realignOn,
    onRequestEnd: (record) => process.stderr.write(logLine(record)),
  });
  try {
    await server.listen();
  } catch (error) {
    await server.close();
    const { code, message } = error as NodeJS.ErrnoException;
    throw new Error(`cannot listen on ${request.host}:${request.port}: ${code ?? message}`);
  }
  return server;
}

/** Loads the model, serves until asked to stop, then closes the server and frees the model. */
async function serve(request: ServeRequest): Promise<number> {
  const { stopped, remove } = stopRequested();
  const loading = new AbortController();
  void stopped.then(() => loading.abort());
  let model: Model | undefined;
  let server: AmuletServer | undefined;
  try {
    model = await loadModelWithProgress(request.modelPath, {
      chatTemplate: request.chatTemplate, gpuLayers: request.gpuLayers, rpcServers: request.rpcServers,
      tensorSplit: request.tensorSplit, signal: loading.signal,
    });
    if (loading.signal.aborted) return EXIT_SUCCESS;
    server = await startServer(model, request);
    process.stdout.write(`amulet serve: ${model.info.description} at ${server.url} ` +
      `(OpenAI base URL ${server.url}/v1); Ctrl-C stops\n`);
    const page = browserUrl(server.url!);
    process.stdout.write(`amulet serve: the playground is at ${page}\n`);
    if (request.open) {
      openBrowser(page, (reason) =>
        process.stderr.write(`amulet: cannot open a browser (${reason}); the playground is at ${page}\n`));
    }
    await stopped;
    process.stderr.write('amulet: stopping: aborting running answers\n');
    return EXIT_SUCCESS;
  } catch (error) {
    if (loading.signal.aborted) return EXIT_SUCCESS;
    printError(isAmuletError(error) ? `${error.code}: ${error.message}` : (error as Error).message);
    return isAmuletError(error, 'ERR_INVALID_OPTION') ? EXIT_USAGE : EXIT_FAILURE;
  } finally {
    await server?.close();
    await model?.dispose();
    remove();
  }
}

/** `amulet serve ...`: returns the exit code. */
export async function serveMain(args: readonly string[]): Promise<number> {
  let commandLine;
  try {
    commandLine = parseServeCommandLine(args);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    printError(`${error.message} (see amulet serve --help)`);
    return EXIT_USAGE;
  }
  if (commandLine.kind === 'help') {
    process.stdout.write(serveHelpText());
    return EXIT_SUCCESS;
  }
  return serve(commandLine.request);
}
