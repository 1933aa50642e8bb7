/**
 * The fixture models every end-to-end test runs on, with how to load them.
 * The Gemma-3-270M GGUF on PyPI is the pretrained (not instruction-tuned)
 * model and has no chat template in its metadata, so Gemma's own turn format
 * is named explicitly.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { ensureFixtureModel, isFixtureModelName, type FixtureModelName } from './fixtures';
import { loadModel, type Model } from '../../lib/index';

export interface TestModel {
  name: FixtureModelName;
  chatTemplate?: string;
}

const allTestModels: readonly TestModel[] = [
  { name: 'smollm2-135m-instruct' },
  { name: 'gemma3-270m', chatTemplate: 'gemma' },
];

/**
 * The fixture models named in AMULET_TEST_MODELS (comma-separated), else
 * all of them. tools/gpu/gpu-check.sh names one where only one could be carried
 * to the GPU machine; tests that need a single model take the first.
 */
export const testModels: readonly TestModel[] = selectTestModels(process.env.AMULET_TEST_MODELS);

function selectTestModels(list: string | undefined): readonly TestModel[] {
  if (list === undefined || list.trim() === '') return allTestModels;
  const names = list.split(',').map((name) => name.trim());
  for (const name of names) {
    if (!isFixtureModelName(name)) throw new Error(`AMULET_TEST_MODELS: ${JSON.stringify(name)} is no fixture model`);
  }
  return allTestModels.filter((model) => names.includes(model.name));
}

/**
 * CPU threads per test session: AMULET_TEST_THREADS, else every core. Set it
 * to 1 when other work shares the machine: llama.cpp's threads spin-wait for
 * each other, and a preempted thread slows a step down tenfold.
 */
export const testThreads = Number(process.env.AMULET_TEST_THREADS ?? availableParallelism());

/**
 * CPU threads per session in tests where several sessions decode at once:
 * one. A session's thread pool spins at the graph's barriers, so sessions
 * with a thread per core each would mostly wait for each other's preempted
 * threads; these tests check what runs, not how fast.
 */
export const concurrentThreads = 1;

/** Layers to offload (AMULET_TEST_GPU_LAYERS, default 0): tools/gpu/gpu-check.sh runs tests on a GPU with it. */
export const testGpuLayers = Number(process.env.AMULET_TEST_GPU_LAYERS ?? 0);

export async function loadTestModel(model: TestModel): Promise<Model> {
  const path = await ensureFixtureModel(model.name);
  return loadModel({ path, chatTemplate: model.chatTemplate, gpuLayers: testGpuLayers });
}

/** The paper's preference sentence for an adjective. */
export function paperPreference(adjective: string): string {
  return `Your answer should be ${adjective} as much as possible.`;
}

/**
 * The question set the tests ask: test/fixtures/questions.json, written for
 * this project, or any file of `{ index, question }` records named by
 * AMULET_TEST_QUESTIONS (e.g. one of the paper's sets).
 */
export const questionsFile = process.env.AMULET_TEST_QUESTIONS ?? resolve(__dirname, '..', 'fixtures', 'questions.json');

/** The first `count` questions of {@link questionsFile}. */
export function loadQuestions(count: number): string[] {
  const records = JSON.parse(readFileSync(questionsFile, 'utf8')) as { question: string }[];
  return records.slice(0, count).map((record) => record.question);
}
