/**
 * `npm run fetch-models [-- --model <name>...]`: downloads, verifies and
 * caches the GGUF fixture models of test/support/fixtures.ts (all of them
 * unless some are named, with --model or bare), showing progress
 * on stderr, then prints `<name>\t<absolute path>` per model on stdout so
 * other scripts can read the paths.
 *
 * The cache folder is `$AMULET_MODELS_DIR`, else `$AMULET_CACHE_DIR/models`,
 * else `~/.cache/amulet-llm/models`.
 */

import {
  ensureFixtureModel,
  fixtureModelNames,
  isFixtureModelName,
  type FixtureModelName,
  type FixtureProgressEvent,
} from '../test/support/fixtures';

/**
 * Writes progress to stderr. On a terminal the current step is redrawn in
 * place with its percentage; elsewhere (CI logs) each step is printed once,
 * without the flood of percentage updates.
 */
class ProgressPrinter {
  /** The step drawn on the terminal's current line, not yet ended by a newline. */
  private openLine = '';
  private lastLine = '';

  constructor(private readonly stream: NodeJS.WriteStream) {}

  readonly print = (event: FixtureProgressEvent): void => {
    const line = `[${event.model}] ${event.message}`;
    if (!this.stream.isTTY) {
      if (line !== this.lastLine) this.stream.write(`${line}\n`);
      this.lastLine = line;
      return;
    }
    if (this.openLine !== '' && line !== this.openLine) this.stream.write('\n');
    const percent = event.fraction === undefined ? '' : ` ${Math.round(event.fraction * 100)}%`;
    // \r and "erase to end of line" redraw the step in place.
    this.stream.write(`\r\x1b[K${line}${percent}`);
    this.openLine = line;
    // pip draws its own progress bar below the download step.
    if (event.phase === 'download') this.endLine();
  };

  /** Ends the line of the step drawn last, so later output starts on a line of its own. */
  endLine(): void {
    if (this.openLine !== '') this.stream.write('\n');
    this.openLine = '';
  }
}

/** Parses the command line: model names, bare or after --model, defaulting to all of them. */
function requestedModels(args: readonly string[]): FixtureModelName[] {
  const names = args.filter((arg) => arg !== '--model');
  const unknown = names.filter((name) => !isFixtureModelName(name));
  if (unknown.length > 0) {
    throw new Error(`unknown model ${unknown.join(', ')}; usage: fetch-models [--model ${fixtureModelNames.join(' | ')}]...`);
  }
  return names.length === 0 ? [...fixtureModelNames] : names.filter(isFixtureModelName);
}

async function main(): Promise<void> {
  const names = requestedModels(process.argv.slice(2));
  const progress = new ProgressPrinter(process.stderr);
  const lines: string[] = [];
  try {
    for (const name of names) {
      const path = await ensureFixtureModel(name, { onProgress: progress.print, showPipProgress: true });
      lines.push(`${name}\t${path}`);
    }
  } finally {
    progress.endLine();
  }
  // Printed only once every model is ready, so a reader of stdout never gets a partial list.
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`fetch-models: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
