/**
 * tools/gpu/gpu-pack.sh and tools/gpu/gpu-check.sh --pack, rehearsed without a GPU.
 * GPU machines are borrowed for minutes, with no time to debug a script, so
 * the whole path is run here: this build's CPU addon packed with
 * --cpu-rehearsal, the parts checked against their size limit, then unpacked
 * into a copy of the tracked tree, as a GPU machine receives it, and the
 * equivalence test and the bench run from the pack with --gpu-layers 0.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');
const partMib = 56;

interface Outcome {
  status: number | null;
  output: string;
}

function bash(args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Outcome {
  const result = spawnSync('bash', args, { cwd, env, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

let work: string;
let pack: string;

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'amulet-gpu-check-'));
  pack = path.join(work, 'pack');
});
afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

test('gpu-pack refuses an addon without CUDA kernels unless rehearsing', () => {
  const refused = bash(['tools/gpu/gpu-pack.sh', '--addon', 'build/Release/amulet.node', '--out', pack], root);
  expect(refused.status).toBe(1);
  expect(refused.output).toContain('has no CUDA kernels');
  expect(fs.existsSync(pack)).toBe(false);
});

test('the packed check runs the equivalence test and the bench from the pack alone', () => {
  const packed = bash(['tools/gpu/gpu-pack.sh', '--addon', 'build/Release/amulet.node', '--cpu-rehearsal', '--out', pack,
    '--part-mib', String(partMib)], root);
  expect(packed.output).toContain('carry [');
  expect(packed.status).toBe(0);
  const parts = fs.readdirSync(pack).filter((name) => name.startsWith('part-'));
  expect(parts.length).toBeGreaterThan(1);
  for (const part of parts) expect(fs.statSync(path.join(pack, part)).size).toBeLessThanOrEqual(partMib << 20);

  // What a GPU machine receives: the tracked tree (and untracked, unignored files), no dist/ or node_modules/.
  const tree = path.join(work, 'tree');
  fs.mkdirSync(tree);
  const copied = bash(['-c', `git ls-files -co --exclude-standard | tar -cf - -T - | tar -C '${tree}' -xf -`], root);
  expect(copied.status).toBe(0);
  const out = path.join(work, 'out');
  const temp = path.join(work, 'tmp');
  fs.mkdirSync(temp);
  const checked = bash(['tools/gpu/gpu-check.sh', '--pack', pack, '--gpu-layers', '0'], tree,
    { ...process.env, OUT: out, TMPDIR: temp });
  expect(checked.output).toContain('equivalence: rc=0');
  expect(checked.status).toBe(0);
  // Node.js, the addon and the model came from the pack.
  expect(checked.output).toContain(`at ${path.join(temp, 'amulet-gpu', 'bin', 'node')}`);
  const bench = JSON.parse(fs.readFileSync(path.join(out, 'bench.json'), 'utf8')) as {
    results: { model: string; tokensPerSecond: number; realignedOn: string[] }[];
    cpuAgreement: { agreeingTokens: number; tokens: number; cpuTokens: number }[];
  };
  // Without a GPU both sides run on the CPU, so they must agree to the last token.
  expect(bench.cpuAgreement).toHaveLength(3);
  for (const { agreeingTokens, tokens, cpuTokens } of bench.cpuAgreement) {
    expect(tokens).toBe(cpuTokens);
    expect(agreeingTokens).toBe(tokens);
  }
  expect(bench.results.map((entry) => entry.realignedOn)).toEqual([['cpu'], ['backend'], ['cpu']]);
  for (const entry of bench.results) {
    expect(entry.model).toBe('smollm2-135m-instruct');
    expect(entry.tokensPerSecond).toBeGreaterThan(0);
  }
});

test('gpu-check stops with a clear message when a part is missing', () => {
  const partial = path.join(work, 'partial');
  fs.mkdirSync(partial);
  fs.copyFileSync(path.join(pack, 'SHA256SUMS'), path.join(partial, 'SHA256SUMS'));
  const checked = bash(['tools/gpu/gpu-check.sh', '--pack', partial], path.join(work, 'tree'),
    { ...process.env, OUT: path.join(work, 'out-partial'), TMPDIR: path.join(work, 'tmp') });
  expect(checked.status).toBe(1);
  expect(checked.output).toContain('a part is missing or damaged');
});
