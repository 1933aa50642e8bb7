/**
 * `amulet eval`: produces the planned answers (resumably), judges them when
 * asked, and writes scores.json and report.md.
 *
 * @packageDocumentation
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { LoadModelOptions, Model, Scorer } from '../../../lib/index';
import { DEFAULT_MODEL, loadModelWithProgress } from '../../model-loading';
import { fluencyOf, scoringOrder, type FluencyRecord } from '../../../eval/fluency';
import { loadPreferences, loadQuestions, selectPreferences, type EvalPreference, type EvalQuestion } from '../../../eval/inputs';
import { judgeAgainst } from '../../../eval/judge';
import { scorerVerdicts } from '../../../eval/model-judge';
import { planJobs, questionKey } from '../../../eval/plan';
import { preferenceSets } from '../../../eval/preference-sets';
import { writeReport } from '../../../eval/report';
import { runJobs, type EvalParameters, type ResponseRecord, type RunProgress } from '../../../eval/runner';
import { computeScores, variantOf, type JudgementRecord, type Reference } from '../../../eval/scores';
import { JsonlStore } from '../../../eval/store';
import { formatVariant } from '../../../eval/variants';
import type { EvalRequest } from './arguments';
import { ProgressBar } from '../../progress-bar';

/** A failure the user can fix (printed without a stack; exit code 2). */
export class EvalSetupError extends Error {}

/** "3m20s", "45s". */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000));
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  if (hours > 0) return `${hours}h${String(minutes).padStart(2, '0')}m`;
  return minutes > 0 ? `${minutes}m${String(seconds % 60).padStart(2, '0')}s` : `${seconds}s`;
}

/** Remaining time at the pace of the answers this process produced. */
function eta(progress: Pick<RunProgress, 'done' | 'total' | 'producedNow' | 'elapsedMs'>): string {
  if (progress.producedNow === 0) return '?';
  return formatDuration((progress.elapsedMs / progress.producedNow) * (progress.total - progress.done));
}

/** A progress reporter: a bar on a terminal, a line per step elsewhere. */
function progressReporter(): { report: (label: string, done: number, total: number, detail: string) => void; clear: () => void } {
  const bar = process.stderr.isTTY ? new ProgressBar(process.stderr) : undefined;
  return {
    report: (label, done, total, detail) => {
      if (bar) bar.update(`${label} ${done}/${total} · ${detail}`, done / total);
      else process.stderr.write(`${label} ${done}/${total} · ${detail}\n`);
    },
    clear: () => bar?.clear(),
  };
}

/** What run.json pins: answers made with other settings cannot be mixed in one folder. */
interface RunManifest {
  model: string;
  chatTemplate: string | null;
  parameters: EvalParameters;
  /** Every variant the folder's answers were made with, as written on the command line. */
  variants: Record<string, string>;
}

function runManifest(request: EvalRequest, modelPath: string, parameters: EvalParameters): RunManifest {
  return {
    model: basename(modelPath), chatTemplate: request.chatTemplate ?? null, parameters,
    variants: Object.fromEntries(request.variants.map((variant) => [variant.name, formatVariant(variant)])),
  };
}

/**
 * Checks the folder's run.json against this run: the same model and
 * settings, and the same definition for every variant both name. Variants
 * new to the folder are added to it, so a run can be extended by variants.
 */
function checkManifest(outDir: string, manifest: RunManifest): void {
  const path = join(outDir, 'run.json');
  const write = (content: RunManifest): void => writeFileSync(path, `${JSON.stringify(content, null, 2)}\n`);
  if (!existsSync(path)) {
    write(manifest);
    return;
  }
  const previous = JSON.parse(readFileSync(path, 'utf8')) as Partial<RunManifest>;
  const sorted = (value: object | undefined): string => JSON.stringify(Object.entries(value ?? {}).sort());
  // A folder made before the plausibility constraint or the KL budget existed ran without them.
  const same = (a: EvalParameters | undefined, b: EvalParameters): boolean =>
    sorted(a && { plausibility: 0, klBudget: 0, ...a }) === sorted(b);
  const known = previous.variants ?? {};
  const conflicts = Object.entries(manifest.variants).filter(([name, spec]) => name in known && known[name] !== spec);
  if (previous.model !== manifest.model || (previous.chatTemplate ?? null) !== manifest.chatTemplate ||
    !same(previous.parameters, manifest.parameters) || conflicts.length > 0) {
    const why = conflicts.length > 0 ? `the variant ${conflicts[0]![0]} was ${known[conflicts[0]![0]]}` : 'other settings';
    throw new EvalSetupError(`${outDir} holds a run with ${why} (see its run.json): ` +
      'use another --out, or the same model and settings to continue it');
  }
  if (Object.keys(manifest.variants).some((name) => !(name in known))) {
    write({ ...manifest, variants: { ...known, ...manifest.variants } });
  }
}

async function load(path: string, options: Pick<LoadModelOptions, 'chatTemplate' | 'rpcServers' | 'tensorSplit'>):
  Promise<Model> {
  return loadModelWithProgress(path, options);
}

/**
 * Scores the fluency of every answer that has none yet (kept in
 * fluency.jsonl as it goes, so an interruption loses nothing), then writes
 * the scores into responses.jsonl.
 */
async function scoreFluency(model: Model, store: JsonlStore<ResponseRecord>, records: readonly ResponseRecord[],
  outDir: string, threads: number | undefined, signal: AbortSignal): Promise<void> {
  const scores = new JsonlStore<FluencyRecord>(join(outDir, 'fluency.jsonl'));
  const todo = scoringOrder(records.filter((record) => record.fluency === undefined && !scores.has(record.key)));
  if (todo.length > 0) {
    const progress = progressReporter();
    const scorer: Scorer = model.createScorer({ threads });
    const start = performance.now();
    try {
      for (const [position, record] of todo.entries()) {
        scores.append(await fluencyOf(scorer, record, signal));
        progress.report('fluency', position + 1, todo.length, `ETA ${eta({ done: position + 1, total: todo.length,
          producedNow: position + 1, elapsedMs: performance.now() - start })}`);
      }
    } finally {
      progress.clear();
      await scorer.dispose();
    }
  }
  const filled = records.filter((record) => record.fluency === undefined && scores.has(record.key))
    .map((record) => ({ ...record, fluency: scores.get(record.key)!.fluency }));
  store.update(filled);
}

/**
 * Judges each variant's answers against pref's and base's, question by
 * question and preference by preference, skipping pairs already judged.
 */
async function judgeAll(request: EvalRequest, records: readonly ResponseRecord[], store: JsonlStore<JudgementRecord>,
  signal: AbortSignal): Promise<void> {
  interface Group { reference: ResponseRecord; kind: Reference; candidates: ResponseRecord[] }
  const groups: Group[] = [];
  for (const kind of request.judgeAgainst) {
    const references = records.filter((record) => variantOf(record) === kind);
    for (const reference of references) {
      for (const preference of kind === 'base' ? [...new Set(records.map((record) => record.preference))] : [reference.preference]) {
        if (preference === null) continue;
        const candidates = records.filter((record) => record.preference === preference &&
          record.questionSet === reference.questionSet && record.questionIndex === reference.questionIndex &&
          variantOf(record) !== kind && variantOf(record) !== 'base' && !store.has(`${record.key}|vs:${kind}`));
        if (candidates.length > 0) groups.push({ reference, kind, candidates });
      }
    }
  }
  const total = groups.reduce((sum, group) => sum + group.candidates.length, 0);
  if (total === 0) return;
  const judgeModel = await load(request.judgePath!, { chatTemplate: request.judgeChatTemplate });
  const scorer = judgeModel.createScorer({ threads: request.threads });
  const verdicts = scorerVerdicts(scorer, signal);
  const progress = progressReporter();
  const start = performance.now();
  let done = 0;
  try {
    for (const { reference, kind, candidates } of groups) {
      const preferenceText = candidates[0]!.preferenceText!;
      const judged = await judgeAgainst(verdicts, reference.question, preferenceText, reference.response,
        candidates.map((candidate) => candidate.response));
      for (const [index, judgement] of judged.entries()) {
        const candidate = candidates[index]!;
        store.append({
          key: `${candidate.key}|vs:${kind}`, questionSet: candidate.questionSet, questionIndex: candidate.questionIndex,
          preference: candidate.preference!, variant: variantOf(candidate), reference: kind,
          outcome: judgement.outcome, candidateShare: judgement.candidateShare, confident: judgement.confident,
          agreed: judgement.agreed, verdictMass: judgement.verdictMass, orders: judgement.orders,
        });
      }
      done += candidates.length;
      progress.report('judging', done, total,
        `ETA ${eta({ done, total, producedNow: done, elapsedMs: performance.now() - start })}`);
    }
  } finally {
    progress.clear();
    await scorer.dispose();
    await judgeModel.dispose();
  }
}

/** Runs `amulet eval`; resolves once report.md is written. Rejects with ERR_ABORTED when `signal` fires. */
export async function runEval(request: EvalRequest, signal: AbortSignal, commandLine: string): Promise<void> {
  const questions: EvalQuestion[] = request.questionFiles.flatMap((file) => loadQuestions(file, request.limit));
  const available: readonly EvalPreference[] = request.preferenceFile ? loadPreferences(request.preferenceFile)
    : request.preferenceSets.flatMap((set) => preferenceSets[set]);
  const preferences = request.preferenceNames ? selectPreferences(available, request.preferenceNames) : [...available];
  const modelPath = request.modelPath ?? DEFAULT_MODEL;
  const parameters: EvalParameters = {
    systemPrompt: request.systemPrompt, maxTokens: request.maxTokens, alpha: request.alpha, lambda: request.lambda,
    eta: request.eta, iterations: request.iterations, ratio: request.ratio, plausibility: request.plausibility,
    klBudget: request.klBudget, beams: request.beams,
    lengthPenalty: request.lengthPenalty,
  };
  mkdirSync(request.outDir, { recursive: true });
  checkManifest(request.outDir, runManifest(request, modelPath, parameters));

  const store = new JsonlStore<ResponseRecord>(join(request.outDir, 'responses.jsonl'));
  const jobs = planJobs(questions, preferences, request.variants);
  const absent = jobs.filter((job) => !store.has(job.key)).length;
  const missing = request.storedOnly ? 0 : absent;
  process.stderr.write(`amulet eval: ${jobs.length} answers planned, ${jobs.length - absent} already in ` +
    `${store.path}, ${missing} to produce\n`);
  const wanted = new Set(jobs.map((job) => job.key));
  const unscored = (): boolean => request.fluency &&
    store.all().some((record) => wanted.has(record.key) && record.fluency === undefined);
  if (missing > 0 || unscored()) {
    const model = await load(modelPath, {
      chatTemplate: request.chatTemplate, rpcServers: request.rpcServers, tensorSplit: request.tensorSplit,
    });
    try {
      if (missing > 0) {
        const progress = progressReporter();
        try {
          await runJobs(model, jobs, store, {
            parameters, threads: request.threads, contextSize: request.contextSize, parallel: request.parallel, signal,
            onProgress: (step) => progress.report('answering', step.done, step.total,
              `${questionKey({ set: step.last.questionSet, index: step.last.questionIndex })} ` +
              `${step.last.preference ?? ''} ${step.last.variant ?? step.last.method} · ETA ${eta(step)}`),
          });
        } finally {
          progress.clear();
        }
      }
      if (unscored()) {
        await scoreFluency(model, store, store.all().filter((record) => wanted.has(record.key)), request.outDir,
          request.threads, signal);
      }
    } finally {
      await model.dispose();
    }
  }
  const records = store.all().filter((record) => wanted.has(record.key));

  const judgements = new JsonlStore<JudgementRecord>(join(request.outDir, 'judgements.jsonl'));
  if (request.judgePath) await judgeAll(request, records, judgements, signal);
  const judged = request.judgePath ? judgements.all().filter((judgement) =>
    wanted.has(judgement.key.slice(0, judgement.key.lastIndexOf('|vs:')))) : [];

  const scores = computeScores(records, judged, preferences, request.variants.map((variant) => variant.name));
  const written = writeReport(request.outDir, scores, records, {
    model: basename(modelPath),
    judgeModel: request.judgePath && basename(request.judgePath),
    questionSets: [...new Set(questions.map((question) => question.set))],
    questionCount: questions.length,
    variantSpecs: Object.fromEntries(request.variants.map((variant) => [variant.name, formatVariant(variant)])),
    command: commandLine,
  });
  process.stdout.write(`${written.files.map((file) => join(request.outDir, file)).join('\n')}\n`);
}
