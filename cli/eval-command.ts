/**
 * `amulet eval`: produces the planned answers (resumably), judges them when
 * asked, and writes scores.json and report.md.
 *
 * @packageDocumentation
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { LoadModelOptions, Model } from '../lib/index';
import { DEFAULT_MODEL, loadModelWithProgress } from './model-loading';
import { loadPreferences, loadQuestions, paperPreferences, selectPreferences, type EvalPreference,
  type EvalQuestion } from '../eval/inputs';
import { modelJudge, judgePair } from '../eval/judge';
import { planJobs, questionKey } from '../eval/plan';
import { writeReport } from '../eval/report';
import { runJobs, type EvalParameters, type ResponseRecord, type RunProgress } from '../eval/runner';
import { computeScores, type JudgementRecord, type Reference } from '../eval/scores';
import { JsonlStore } from '../eval/store';
import type { EvalRequest } from './eval-arguments';
import { ProgressBar } from './progress-bar';

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

/** The settings run.json pins: answers made with other settings cannot be mixed in one folder. */
function runManifest(request: EvalRequest, modelPath: string, parameters: EvalParameters): Record<string, unknown> {
  return { model: basename(modelPath), chatTemplate: request.chatTemplate ?? null, parameters };
}

function checkManifest(outDir: string, manifest: Record<string, unknown>): void {
  const path = join(outDir, 'run.json');
  if (existsSync(path)) {
    const previous = readFileSync(path, 'utf8');
    if (previous !== `${JSON.stringify(manifest, null, 2)}\n`) {
      throw new EvalSetupError(`${outDir} holds a run with other settings (see its run.json): ` +
        'use another --out, or the same model and settings to continue it');
    }
  } else {
    writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`);
  }
}

async function load(path: string, options: Pick<LoadModelOptions, 'chatTemplate' | 'rpcServers' | 'tensorSplit'>):
  Promise<Model> {
  return loadModelWithProgress(path, options);
}

/** Judges each method's answers against base's and pref's, skipping pairs already judged. */
async function judgeAll(request: EvalRequest, records: readonly ResponseRecord[], store: JsonlStore<JudgementRecord>,
  signal: AbortSignal): Promise<void> {
  const judgeModel = await load(request.judgePath!, { chatTemplate: request.judgeChatTemplate });
  const { judge, session } = modelJudge(judgeModel, { threads: request.threads, signal });
  const progress = progressReporter();
  try {
    const base = new Map(records.filter((record) => record.method === 'base')
      .map((record) => [`${record.questionSet}#${record.questionIndex}`, record]));
    const pref = new Map(records.filter((record) => record.method === 'pref')
      .map((record) => [`${record.questionSet}#${record.questionIndex}|${record.preference}`, record]));
    const pairs: { candidate: ResponseRecord; reference: ResponseRecord; kind: Reference }[] = [];
    for (const candidate of records) {
      if (candidate.method === 'base' || candidate.preference === null) continue;
      const question = `${candidate.questionSet}#${candidate.questionIndex}`;
      const againstBase = base.get(question);
      if (againstBase) pairs.push({ candidate, reference: againstBase, kind: 'base' });
      const againstPref = pref.get(`${question}|${candidate.preference}`);
      if (againstPref && candidate.method !== 'pref') pairs.push({ candidate, reference: againstPref, kind: 'pref' });
    }
    const start = performance.now();
    let judgedNow = 0;
    for (const [position, { candidate, reference, kind }] of pairs.entries()) {
      const key = `${candidate.key}|vs:${kind}`;
      if (store.has(key)) continue;
      const judgement = await judgePair(judge, candidate.question, candidate.preferenceText!, candidate.response,
        reference.response);
      store.append({
        key, questionSet: candidate.questionSet, questionIndex: candidate.questionIndex,
        preference: candidate.preference!, method: candidate.method, reference: kind,
        outcome: judgement.outcome, agreed: judgement.agreed,
        verdicts: [judgement.candidateFirst, judgement.candidateSecond], replies: judgement.replies,
      });
      judgedNow += 1;
      progress.report('judging', position + 1, pairs.length,
        `ETA ${eta({ done: position + 1, total: pairs.length, producedNow: judgedNow, elapsedMs: performance.now() - start })}`);
    }
  } finally {
    progress.clear();
    await session.dispose();
    await judgeModel.dispose();
  }
}

/** Runs `amulet eval`; resolves once report.md is written. Rejects with ERR_ABORTED when `signal` fires. */
export async function runEval(request: EvalRequest, signal: AbortSignal, commandLine: string): Promise<void> {
  const questions: EvalQuestion[] = request.questionFiles.flatMap((file) => loadQuestions(file, request.limit));
  const available: readonly EvalPreference[] = request.preferenceFile ? loadPreferences(request.preferenceFile)
    : paperPreferences;
  const preferences = request.preferenceNames ? selectPreferences(available, request.preferenceNames) : [...available];
  const modelPath = request.modelPath ?? DEFAULT_MODEL;
  const parameters: EvalParameters = {
    systemPrompt: request.systemPrompt, maxTokens: request.maxTokens, alpha: request.alpha, lambda: request.lambda,
    eta: request.eta, iterations: request.iterations, ratio: request.ratio, beams: request.beams,
    lengthPenalty: request.lengthPenalty,
  };
  mkdirSync(request.outDir, { recursive: true });
  checkManifest(request.outDir, runManifest(request, modelPath, parameters));

  const store = new JsonlStore<ResponseRecord>(join(request.outDir, 'responses.jsonl'));
  const jobs = planJobs(questions, preferences, request.methods);
  const missing = jobs.filter((job) => !store.has(job.key)).length;
  process.stderr.write(`amulet eval: ${jobs.length} answers planned, ${jobs.length - missing} already in ` +
    `${store.path}, ${missing} to produce\n`);
  if (missing > 0) {
    const model = await load(modelPath, {
      chatTemplate: request.chatTemplate, rpcServers: request.rpcServers, tensorSplit: request.tensorSplit,
    });
    const progress = progressReporter();
    try {
      await runJobs(model, jobs, store, {
        parameters, threads: request.threads, contextSize: request.contextSize, signal,
        onProgress: (step) => progress.report('answering', step.done, step.total,
          `${questionKey({ set: step.last.questionSet, index: step.last.questionIndex, question: '' })} ` +
          `${step.last.preference ?? ''} ${step.last.method} · ETA ${eta(step)}`),
      });
    } finally {
      progress.clear();
      await model.dispose();
    }
  }
  const wanted = new Set(jobs.map((job) => job.key));
  const records = store.all().filter((record) => wanted.has(record.key));

  const judgements = new JsonlStore<JudgementRecord>(join(request.outDir, 'judgements.jsonl'));
  if (request.judgePath) await judgeAll(request, records, judgements, signal);
  const judged = request.judgePath ? judgements.all().filter((judgement) =>
    wanted.has(judgement.key.slice(0, judgement.key.lastIndexOf('|vs:')))) : [];

  const scores = computeScores(records, judged, preferences.map((preference) => preference.name), request.methods);
  const written = writeReport(request.outDir, scores, records, {
    model: basename(modelPath),
    judgeModel: request.judgePath && basename(request.judgePath),
    questionSets: [...new Set(questions.map((question) => question.set))],
    questionCount: questions.length,
    command: commandLine,
  });
  process.stdout.write(`${written.files.map((file) => join(request.outDir, file)).join('\n')}\n`);
}
