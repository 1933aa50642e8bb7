/**
 * `amulet eval` end to end on the SmolLM2 fixture: a small run (2 questions,
 * 2 preferences, short answers) that is interrupted with Ctrl-C, continued
 * without repeating an answer, scored for fluency, extended by a variant and
 * reported; a run made several answers at a time (--parallel); a run judged by a real model through the probabilities of its
 * verdict tokens; plus its usage errors.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ensureFixtureModel } from '../support/fixtures';
import { questionsFile, testThreads } from '../support/models';

const root = resolve(__dirname, '..', '..');
const cliPath = join(root, 'dist', 'cli', 'amulet.js');

interface Outcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `amulet eval`; `interruptWhen` sends SIGINT once stderr matches it. */
function runEval(args: readonly string[], interruptWhen?: RegExp): Promise<Outcome> {
  return new Promise((resolveOutcome, rejectOutcome) => {
    const child = spawn(process.execPath, [cliPath, 'eval', ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      stdout += text;
    });
    child.stderr.setEncoding('utf8').on('data', (text: string) => {
      stderr += text;
      if (interruptWhen && !interrupted && interruptWhen.test(stderr)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    child.on('error', rejectOutcome);
    child.on('close', (code) => resolveOutcome({ code, stdout, stderr }));
  });
}

let out: string;
let modelPath: string;

beforeAll(async () => {
  modelPath = await ensureFixtureModel('smollm2-135m-instruct');
  // Tested as users run it: compiled (errors elsewhere in the tree do not stop tsc from emitting).
  try {
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'],
      { cwd: root, stdio: 'pipe' });
  } catch (error) {
    const output = String((error as { stdout?: string }).stdout ?? error);
    if (/(^|\n)(cli|lib\/eval)\//.test(output)) throw new Error(`the eval command does not compile:\n${output}`);
  }
  out = mkdtempSync(join(tmpdir(), 'amulet-eval-cli-'));
});
afterAll(() => rmSync(out, { recursive: true, force: true }));

it('runs, resumes after Ctrl-C without duplicates, and writes the report', async () => {
  const argsWith = (maxTokens: string): string[] => ['--model', modelPath, '--questions', questionsFile,
    '--limit', '2', '--preferences', 'concise,uplifting', '--methods', 'base,pref,la,amulet', '--max-tokens', maxTokens,
    '--threads', String(testThreads), '--out', out];
  const args = argsWith('12');
  const first = await runEval(args, /answering 3\//);
  expect(first.code).toBe(130);
  const keysAfterInterrupt = readFileSync(join(out, 'responses.jsonl'), 'utf8').trim().split('\n').length;
  expect(keysAfterInterrupt).toBeGreaterThanOrEqual(3);
  expect(keysAfterInterrupt).toBeLessThan(14);

  const second = await runEval(args);
  expect(second.stderr).toContain(`14 answers planned, ${keysAfterInterrupt} already in`);
  expect(second.code).toBe(0);
  const records = readFileSync(join(out, 'responses.jsonl'), 'utf8').trim().split('\n')
    .map((line) => JSON.parse(line) as { key: string; method: string; segments?: unknown[]; timing: object;
      tokenIds: number[]; tokens: number; preference: string | null;
      fluency: { tokens: number; plainNll: number; preferenceNll: number | null } | null });
  // 2 base answers + 2 questions x 2 preferences x 3 methods.
  expect(records).toHaveLength(14);
  expect(new Set(records.map((record) => record.key)).size).toBe(14);
  expect(records.filter((record) => record.method === 'base')).toHaveLength(2);
  expect(records.filter((record) => record.method === 'amulet').every((record) => Array.isArray(record.segments))).toBe(true);
  // Every answer's tokens are kept, and its fluency scored from them once the answers existed.
  for (const record of records) {
    expect(record.tokenIds).toHaveLength(record.tokens);
    if (record.tokens === 0) continue;
    expect(record.fluency!.tokens).toBe(record.tokens);
    expect(record.fluency!.plainNll).toBeGreaterThan(0);
    if (record.preference === null) expect(record.fluency!.preferenceNll).toBeNull();
    else expect(record.fluency!.preferenceNll).toBeGreaterThan(0);
  }

  const third = await runEval(args);
  expect(third.stderr).toContain('14 answers planned, 14 already in');
  expect(readFileSync(join(out, 'responses.jsonl'), 'utf8').trim().split('\n')).toHaveLength(14);

  for (const file of ['scores.json', 'report.md', 'charts/paper-proxy-win-vs-pref.svg', 'run.json', 'fluency.jsonl']) {
    expect(existsSync(join(out, file))).toBe(true);
  }
  const report = readFileSync(join(out, 'report.md'), 'utf8');
  expect(report).toContain('### concise');
  expect(report).toContain('| amulet |');
  const scores = JSON.parse(readFileSync(join(out, 'scores.json'), 'utf8')) as { preferences: { name: string }[] };
  expect(scores.preferences.map((preference) => preference.name)).toEqual(['concise', 'uplifting']);

  // Other settings in the same folder would mix answers: refused; a new variant is added to it.
  const mismatched = await runEval(argsWith('13'));
  expect(mismatched.code).toBe(2);
  expect(mismatched.stderr).toContain('holds a run with other settings');
  const redefined = await runEval([...args, '--variant', 'amulet=amulet:alpha=1']);
  expect(redefined.code).toBe(2);
  const extended = await runEval([...args, '--variant', 'gentle=amulet:alpha=1']);
  expect(extended.stderr).toContain('18 answers planned, 14 already in');
  expect(extended.code).toBe(0);
  const rerun = await runEval([...args, '--variant', 'gentle=amulet:alpha=1.5']);
  expect(rerun.code).toBe(2);
  expect(rerun.stderr).toContain('the variant gentle was gentle=amulet:alpha=1');
  expect(readFileSync(join(out, 'report.md'), 'utf8')).toContain('`gentle=amulet:alpha=1`');
});

it('produces answers several at a time with --parallel, and resumes such a run after Ctrl-C', async () => {
  const parallelOut = mkdtempSync(join(tmpdir(), 'amulet-eval-parallel-'));
  try {
    const args = ['--model', modelPath, '--questions', questionsFile, '--limit', '2', '--preferences', 'concise,uplifting',
      '--methods', 'base,pref,amulet', '--variant', 'guarded=amulet:echoGuard=true', '--variant', 'echo=amulet:echoPrompt=1',
      '--max-tokens', '12',
      '--threads', String(testThreads), '--parallel', '3', '--no-fluency', '--out', parallelOut];
    const first = await runEval(args, /answering 2\//);
    expect(first.code).toBe(130);
    const second = await runEval(args);
    expect(second.code).toBe(0);
    const records = readFileSync(join(parallelOut, 'responses.jsonl'), 'utf8').trim().split('\n')
      .map((line) => JSON.parse(line) as { key: string; variant: string; tokens: number; tokenIds: number[];
        finishReason: string; parameters: { echoPrompt?: number } });
    // 2 base answers + 2 questions x 2 preferences x 4 variants, each stored once, whole.
    expect(records).toHaveLength(18);
    expect(new Set(records.map((record) => record.key)).size).toBe(18);
    expect(records.filter((record) => record.parameters.echoPrompt === 1).map((record) => record.variant))
      .toEqual(['echo', 'echo', 'echo', 'echo']);
    for (const record of records) {
      expect(record.tokenIds).toHaveLength(record.tokens);
      expect(record.tokens).toBeLessThanOrEqual(12);
      expect(['stop', 'maxTokens']).toContain(record.finishReason);
    }
  } finally {
    rmSync(parallelOut, { recursive: true, force: true });
  }
});

it('judges every pair in both orders by the probabilities of a local model\'s verdict tokens', async () => {
  const judged = mkdtempSync(join(tmpdir(), 'amulet-eval-judge-'));
  try {
    const outcome = await runEval(['--model', modelPath, '--questions', questionsFile,
      '--limit', '1', '--preferences', 'concise', '--methods', 'base,pref,amulet', '--max-tokens', '8',
      '--threads', String(testThreads), '--judge', '--judge-model', modelPath, '--no-fluency', '--out', judged]);
    expect(outcome.code).toBe(0);
    const judgements = readFileSync(join(judged, 'judgements.jsonl'), 'utf8').trim().split('\n')
      .map((line) => JSON.parse(line) as { variant: string; reference: string; candidateShare: number;
        verdictMass: number; orders: { a: number; b: number }[] });
    // pref vs base, amulet vs base, amulet vs pref: each read twice, the answers swapped.
    expect(judgements.map((j) => `${j.variant}/${j.reference}`).sort()).toEqual(['amulet/base', 'amulet/pref', 'pref/base']);
    for (const judgement of judgements) {
      expect(judgement.orders).toHaveLength(2);
      for (const { a, b } of judgement.orders) {
        expect(a).toBeGreaterThanOrEqual(0);
        expect(b).toBeGreaterThanOrEqual(0);
        expect(a + b).toBeLessThanOrEqual(1 + 1e-6);
      }
      expect(judgement.candidateShare).toBeGreaterThanOrEqual(0);
      expect(judgement.candidateShare).toBeLessThanOrEqual(1);
      // The verdict tokens take a real share of the next-token mass after "Better response: Response".
      expect(judgement.verdictMass).toBeGreaterThan(0.1);
    }
    const scores = JSON.parse(readFileSync(join(judged, 'scores.json'), 'utf8')) as
      { overall: { paper: Record<string, { judgeWinRate: { base: { value: number } | null };
        judgeAgreement: number | null; judgeConfident: number | null }> } };
    expect(scores.overall.paper.amulet!.judgeWinRate.base!.value).toEqual(expect.any(Number));
    expect(scores.overall.paper.amulet!.judgeAgreement).toEqual(expect.any(Number));
    expect(scores.overall.paper.amulet!.judgeConfident).toEqual(expect.any(Number));
  } finally {
    rmSync(judged, { recursive: true, force: true });
  }
});

it.each([
  [[], '--questions'],
  [['--questions', 'q.json', '--methods', 'base,magic'], '--methods'],
  [['--questions', 'q.json', '--preferences', 'concise', '--preference-file', 'p.json'], 'either'],
  [['--questions', 'q.json', '--preference-set', 'paper,nonsense'], '--preference-set'],
  [['--questions', 'q.json', '--variant', 'x=amulet:alpha=-1'], '--variant'],
  [['--questions', 'q.json', '--judge-model', 'j.gguf'], '--judge-model needs --judge'],
  [['--questions', 'q.json', '--beams', '0'], '--beams'],
])('refuses %j with a usage error', async (args, message) => {
  const outcome = await runEval(args);
  expect(outcome.code).toBe(2);
  expect(outcome.stderr).toContain(message);
});
