/**
 * Loading the model a command names, with progress on stderr: a bar for the
 * download (for a Hugging Face reference or a URL not yet cached) and one for
 * loading the weights, on a terminal; one line for a download elsewhere.
 *
 * @packageDocumentation
 */
import { basename } from 'node:path';
import { loadModel, parseModelReference, type LoadModelOptions, type Model } from '../lib/index';
import { ProgressBar } from './progress-bar';

/**
 * The model the commands run when `--model` is not given: fetched from
 * Hugging Face on first use, then cached.
 */
export const DEFAULT_MODEL = 'hf:Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf';

/** Where a reference points, for a progress line: its file name. */
function shownName(reference: string): string {
  const parsed = parseModelReference(reference);
  switch (parsed.kind) {
    case 'local': return basename(parsed.path);
    case 'url': return basename(parsed.url.pathname);
    case 'hub-file': return basename(parsed.file);
    case 'hub-quant': return `${parsed.owner}/${parsed.repo}`;
  }
}

/**
 * Loads `reference` with `options`, drawing progress on stderr, where it also
 * says when the model's chat template could not be used as asked.
 */
export async function loadModelWithProgress(reference: string, options: Omit<LoadModelOptions, 'path'> = {}): Promise<Model> {
  const model = await loadShowingProgress(reference, options);
  const warning = model.info.chatTemplateWarning;
  if (warning !== undefined) process.stderr.write(`amulet: warning: ${warning}\n`);
  return model;
}

async function loadShowingProgress(reference: string, options: Omit<LoadModelOptions, 'path'>): Promise<Model> {
  const bar = process.stderr.isTTY ? new ProgressBar(process.stderr) : undefined;
  const name = shownName(reference);
  let announced = false;
  try {
    return await loadModel({
      ...options,
      path: reference,
      onDownloadProgress: (progress) => {
        if (bar) {
          const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(0)} MB`;
          const total = progress.totalBytes === undefined ? '' : ` of ${mb(progress.totalBytes)}`;
          bar.update(`downloading ${name}: ${mb(progress.downloadedBytes)}${total}`, progress.fraction);
        } else if (!announced) {
          process.stderr.write(`amulet: downloading ${reference} (once; then cached)\n`);
          announced = true;
        }
      },
      onProgress: bar && ((fraction) => bar.update(`loading ${name}`, fraction)),
    });
  } finally {
    bar?.clear();
  }
}
