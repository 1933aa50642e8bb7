/**
 * The package as a user gets it: `npm pack` (whose prepack step compiles the
 * TypeScript and makes the portable prebuild, incrementally), then the
 * tarball installed into fresh projects outside the repository, from npm's
 * cache, with nothing else copied over:
 *
 * - with the prebuild: the install step runs with CC and CXX set to
 *   /bin/false and must not build; a strict TypeScript program compiled
 *   against the installed types generates text through the ESM entry point,
 *   a CommonJS one through `require`; then the same with install scripts
 *   skipped altogether (--ignore-scripts), as npm's script policy may do;
 *   and the prebuilt RPC worker (`amulet rpc-server`) holds a model's layers;
 * - from source (AMULET_BUILD_FROM_SOURCE=1): the addon is built from the
 *   sources in the tarball (vendored llama.cpp included, no network) and is
 *   the one that loads, with the RPC worker built beside it; `node-gyp
 *   rebuild` through binding.gyp builds it too.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureFixtureModel } from '../support/fixtures';

const root = path.resolve(__dirname, '..', '..');
const manifest = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  prebuilds: string[];
};
const platform = `${process.platform}-${process.arch}`;
const hasPrebuild = manifest.prebuilds.includes(platform);
const prebuildFile = `prebuilds/${platform}/${manifest.name}.glibc.node`;
const prebuiltWorker = `prebuilds/${platform}/ggml-rpc-server`;
const minutes = 60_000;
/** ccache's usual folder (scripts/build.mjs's default), kept when AMULET_CACHE_DIR points elsewhere. */
const ccacheDir = process.env.CCACHE_DIR ??
  path.join(process.env.AMULET_CACHE_DIR ?? path.join(os.homedir(), '.cache', 'amulet-llm'), 'ccache');

/** The environment of a user's shell: none of the npm_* variables `npm test` sets for the repository. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key) && key !== 'INIT_CWD' && !key.startsWith('AMULET_BUILD')) env[key] = value;
  }
  return { ...env, ...extra };
}

/** Runs a command to completion; returns its stdout, or its stdout and stderr together. */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = userEnv(), withStderr = false): string {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', maxBuffer: 256 << 20 });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd} (${result.error?.message ?? `status ${result.status}`}):\n` +
      `${result.stdout}\n${result.stderr}`);
  }
  return withStderr ? `${result.stdout}${result.stderr}` : result.stdout;
}

/** Versions of the consumer's TypeScript tool chain, taken from the repository's so npm's cache has them. */
function devVersion(name: string): string {
  return (JSON.parse(fs.readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
}

let work: string;
let tarball: string;
let modelPath: string;

/** A new project that depends on the tarball only, its install scripts approved (npm 11's allowScripts). */
function newProject(name: string, dependencies: Record<string, string> = {}): string {
  const dir = path.join(work, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({
    name,
    version: '1.0.0',
    private: true,
    dependencies: { [manifest.name]: `file:${tarball}`, ...dependencies },
    allowScripts: { [`file:${tarball}`]: true },
  }, null, 2));
  return dir;
}

function npmInstall(dir: string, env: NodeJS.ProcessEnv, ...flags: string[]): string {
  return run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--foreground-scripts', ...flags], dir, env, true);
}

const cjsCheck = `
const { loadModel, guidanceScale } = require('amulet-llm');
(async () => {
  const model = await loadModel({ path: process.argv[2] });
  const session = model.createSession({ preferences: [{ text: 'Be concise.' }] });
  const result = await session.prompt('Say hello.', { maxTokens: 8 });
  model.dispose();
  console.log(JSON.stringify({ text: result.text, tokens: result.generatedTokenCount, scale: guidanceScale() }));
})().catch((error) => { console.error(error); process.exit(1); });
`;

const esmCheck = `
import { loadModel, AmuletError } from 'amulet-llm';
const model = await loadModel({ path: process.argv[2] });
const session = model.createSession({ preferences: [{ text: 'Be concise.' }] });
const result = await session.prompt('Say hello.', { maxTokens: 8 });
model.dispose();
console.log(JSON.stringify({ text: result.text, tokens: result.generatedTokenCount, errorClass: typeof AmuletError }));
`;

/** llama.cpp's RPC worker as the installed package runs it (`amulet rpc-server`), holding every layer of the model. */
const rpcCheck = `
const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const { loadModel, rpcServerPath } = require('amulet-llm');
(async () => {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => probe.once('listening', resolve));
  const port = probe.address().port;
  await new Promise((resolve) => probe.close(resolve));
  const amulet = path.join('node_modules', '.bin', 'amulet');
  const worker = spawn(amulet, ['rpc-server', '--port', String(port), '--threads', '1'], { stdio: 'ignore' });
  try {
    let model;
    for (let attempt = 0; !model; ++attempt) {
      try {
        model = await loadModel({ path: process.argv[2], rpcServers: ['127.0.0.1:' + port] });
      } catch (error) {
        if (error.code !== 'ERR_RPC_UNREACHABLE' || attempt > 100) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const session = model.createSession({ preferences: [{ text: 'Be concise.' }], threads: 1 });
    const result = await session.prompt('Say hello.', { maxTokens: 8 });
    await model.dispose();
    const remote = model.info.devices.filter((device) => device.kind === 'rpc');
    console.log(JSON.stringify({ text: result.text, tokens: result.generatedTokenCount, worker: path.relative(process.cwd(), rpcServerPath()),
      remoteLayers: remote.map((device) => device.layers), output: remote.map((device) => device.output) }));
  } finally {
    worker.kill('SIGTERM');
  }
})().catch((error) => { console.error(error); process.exit(1); });
`;

/** A consumer's program like the README's example, compiled with `tsc --strict` against the installed types. */
const typedProgram = `
import { createRequire } from 'node:module';
import { AmuletError, isAmuletError, loadModel, type GenerationResult, type SessionOptions } from 'amulet-llm';

const modelPath = process.argv[2];
if (modelPath === undefined) throw new Error('usage: main.mjs <model.gguf>');

await using model = await loadModel({ path: modelPath });
const options: SessionOptions = {
  systemPrompt: 'You are a helpful assistant.',
  preferences: [{ text: 'Your answer should be concise as much as possible.' }],
  method: 'amulet',
};
const session = model.createSession(options);
const controller = new AbortController();
const stream = session.prompt('How do I boil an egg?', { maxTokens: 24, signal: controller.signal });
let streamed = '';
for await (const chunk of stream) streamed += chunk.text;
const result: GenerationResult = await stream;

let missing: unknown;
try {
  await loadModel({ path: modelPath + '.missing' });
} catch (error) {
  missing = error;
}
const cjs = createRequire(import.meta.url)('amulet-llm') as typeof import('amulet-llm');
console.log(JSON.stringify({
  streamed,
  text: result.text,
  tokens: result.generatedTokenCount,
  finishReason: result.finishReason,
  missingModelCode: isAmuletError(missing) ? missing.code : String(missing),
  oneModuleInstance: cjs.AmuletError === AmuletError,
}));
`;

const consumerTsconfig = {
  compilerOptions: {
    strict: true,
    target: 'ES2022',
    lib: ['ES2022', 'ESNext.Disposable'],
    module: 'nodenext',
    moduleResolution: 'nodenext',
    types: ['node'],
    outDir: 'out',
  },
  files: ['main.mts'],
};

interface CheckOutput {
  text: string;
  tokens: number;
}

function runCheck<T extends CheckOutput>(dir: string, file: string): T {
  const output = JSON.parse(run(process.execPath, [file, modelPath], dir).trim().split('\n').pop() ?? '') as T;
  expect(output.tokens).toBeGreaterThan(0);
  expect(output.text.trim().length).toBeGreaterThan(0);
  return output;
}

beforeAll(async () => {
  modelPath = await ensureFixtureModel('smollm2-135m-instruct');
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'amulet-llm-package-'));
  const started = Date.now();
  // prepack: `scripts/build.mjs --ts-only` and `scripts/prebuild.mjs` (the portable prebuild).
  run('npm', ['pack', '--pack-destination', work], root, userEnv());
  tarball = path.join(work, `${manifest.name}-${manifest.version}.tgz`);
  const size = fs.statSync(tarball).size;
  process.stdout.write(`[package] npm pack: ${path.basename(tarball)}, ${(size / 1048576).toFixed(2)} MiB, ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
}, 90 * minutes);

afterAll(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

describe('npm pack', () => {
  test('the tarball holds the built package, its build inputs and licences, and nothing else', () => {
    const files = run('tar', ['-tzf', tarball], work).trim().split('\n').map((file) => file.replace(/^package\//, ''));
    for (const file of [
      'package.json', 'README.md', 'LICENSE',
      'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/index.mjs', 'dist/lib/index.d.mts', 'dist/cli/amulet.js',
      'dist/playground/index.html', 'dist/playground/app.js', 'dist/playground/vendor/markdown-it.mjs',
      'dist/playground/vendor/markdown-it.LICENSE.txt',
      'CMakeLists.txt', 'binding.gyp', 'scripts/build.mjs', 'scripts/install.mjs',
      'native/addon/addon.cpp', 'native/sampler/realign_sampler.cpp',
      'vendor/materialize.mjs', 'vendor/llama.cpp.pin.json', 'vendor/llama.cpp/.amulet-pin',
      'vendor/llama.cpp/LICENSE', 'vendor/llama.cpp/CMakeLists.txt', 'vendor/llama.cpp/include/llama.h',
      'vendor/llama.cpp/ggml/src/ggml.c', 'vendor/llama.cpp/ggml/src/ggml-cpu/CMakeLists.txt',
      'vendor/llama.cpp/common/chat.cpp', 'vendor/llama.cpp/common/jinja/runtime.cpp',
      'vendor/llama.cpp/vendor/nlohmann/json.hpp',
      'vendor/llama.cpp/ggml/src/ggml-rpc/ggml-rpc.cpp', 'vendor/llama.cpp/tools/rpc/rpc-server.cpp',
    ]) {
      expect(files).toContain(file);
    }
    if (hasPrebuild) expect(files).toEqual(expect.arrayContaining([prebuildFile, prebuiltWorker]));
    const prebuilds = files.filter((file) => file.startsWith('prebuilds/'));
    for (const file of prebuilds) expect(manifest.prebuilds).toContain(file.split('/')[1]);

    const unwanted = files.filter((file) =>
      /^(test|bench|lib|cli|build|build-portable|models|node_modules|dist\/scripts|native\/tests)\//.test(file) ||
      /\.(ts|map|gguf|tgz|o|a)$/.test(file.replace(/\.d\.m?ts$/, '')) ||
      // tools/ only for the RPC worker; its CMakeLists.txt comes with the root one ("files" matches names at any depth).
      /^vendor\/llama\.cpp\/(?:(?:examples|tests|docs|models|gguf-py|scripts|\.github)\/|tools\/(?!rpc\/|CMakeLists\.txt$))/
        .test(file));
    expect(unwanted).toEqual([]);

    const size = fs.statSync(tarball).size;
    process.stdout.write(`[package] ${files.length} files, ${(size / 1048576).toFixed(2)} MiB\n`);
    // The sources and the JavaScript, and about 4 MiB compressed per platform's prebuild (the addon and the RPC worker).
    const platforms = new Set(prebuilds.map((file) => file.split('/')[1]));
    expect(size).toBeLessThan((4 + 4 * platforms.size) * 1048576);
  });
});

(hasPrebuild ? describe : describe.skip)(`installed with the ${platform} prebuild`, () => {
  test('installs with no compiler, compiles against the types, generates text from ESM and CommonJS', () => {
    const dir = newProject('consumer-prebuilt', {
      typescript: devVersion('typescript'),
      '@types/node': devVersion('@types/node'),
    });
    const started = Date.now();
    const log = npmInstall(dir, userEnv({ CC: '/bin/false', CXX: '/bin/false' }));
    process.stdout.write(`[package] install with the prebuild: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    const installed = path.join(dir, 'node_modules', manifest.name);
    expect(log).toContain(`using ${prebuildFile}`);
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);

    fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify(consumerTsconfig, null, 2));
    fs.writeFileSync(path.join(dir, 'main.mts'), typedProgram);
    run(process.execPath, [path.join(dir, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], dir);
    const typed = runCheck<CheckOutput & { streamed: string; missingModelCode: string; oneModuleInstance: boolean }>(
      dir, path.join('out', 'main.mjs'));
    expect(typed.streamed).toBe(typed.text);
    expect(typed.missingModelCode).toBe('ERR_MODEL_NOT_FOUND');
    expect(typed.oneModuleInstance).toBe(true);

    fs.writeFileSync(path.join(dir, 'check.cjs'), cjsCheck);
    fs.writeFileSync(path.join(dir, 'check.mjs'), esmCheck);
    expect(runCheck<CheckOutput & { scale: number }>(dir, 'check.cjs').scale).toBeCloseTo(1.5338, 3);
    runCheck(dir, 'check.mjs');
    fs.writeFileSync(path.join(dir, 'rpc.cjs'), rpcCheck);
    const remote = runCheck<CheckOutput & { worker: string; output: boolean[] }>(dir, 'rpc.cjs');
    expect(remote.worker).toBe(path.join('node_modules', manifest.name, prebuiltWorker));
    expect(remote.output).toEqual([true]);

    // The evaluation's NLP packages are optional peers: not installed with the library, and named when missing.
    expect(fs.existsSync(path.join(dir, 'node_modules', 'compromise'))).toBe(false);
    const evaluation = spawnSync(process.execPath, [path.join(installed, 'dist', 'cli', 'amulet.js'), 'eval',
      '--questions', 'q.json'], { cwd: dir, encoding: 'utf8', env: userEnv({}) });
    expect(evaluation.status).toBe(1);
    expect(evaluation.stderr).toMatch(new RegExp('amulet eval scores answers with compromise, sentiment, stopword, nspell, ' +
      'dictionary-en, dictionary-fr, dictionary-de and dictionary-es, which are not installed: npm install compromise ' +
      'sentiment stopword nspell dictionary-en dictionary-fr dictionary-de dictionary-es'));

    // The same without any install script, as npm does for a denied package or with --ignore-scripts.
    fs.rmSync(path.join(dir, 'node_modules'), { recursive: true });
    npmInstall(dir, userEnv({ CC: '/bin/false', CXX: '/bin/false' }), '--ignore-scripts');
    expect(fs.existsSync(path.join(installed, 'build'))).toBe(false);
    runCheck(dir, 'check.cjs');
  }, 30 * minutes);
});

describe('installed with AMULET_BUILD_FROM_SOURCE=1', () => {
  test('builds the addon from the sources in the tarball and loads that build; so does node-gyp', () => {
    const dir = newProject('consumer-source');
    const started = Date.now();
    // An empty cache folder: nothing to materialise llama.cpp from, so the build must use the tarball's copy.
    // ccache keeps its usual folder (it only makes the build faster).
    const log = npmInstall(dir, userEnv({
      AMULET_BUILD_FROM_SOURCE: '1',
      AMULET_CACHE_DIR: path.join(dir, 'empty-cache'),
      CCACHE_DIR: ccacheDir,
    }));
    expect(log).toContain('building the addon from source (AMULET_BUILD_FROM_SOURCE=1)');
    expect(log).toContain('vendor/llama.cpp is up to date');
    process.stdout.write(`[package] install building from source: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    const installed = path.join(dir, 'node_modules', manifest.name);
    const loaded = run(process.execPath, ['-p', `require('node-gyp-build').resolve(${JSON.stringify(installed)})`], dir).trim();
    expect(loaded).toBe(path.join(installed, 'build', 'Release', 'amulet.node'));

    fs.writeFileSync(path.join(dir, 'check.cjs'), cjsCheck);
    fs.writeFileSync(path.join(dir, 'check.mjs'), esmCheck);
    runCheck(dir, 'check.cjs');
    runCheck(dir, 'check.mjs');
    fs.writeFileSync(path.join(dir, 'rpc.cjs'), rpcCheck);
    const remote = runCheck<CheckOutput & { worker: string }>(dir, 'rpc.cjs');
    expect(remote.worker).toBe(path.join('node_modules', manifest.name, 'build', 'Release', 'ggml-rpc-server'));

    // binding.gyp, for tools that only know node-gyp: npm's own node-gyp (on the PATH of npm
    // scripts), with this Node's headers so that it needs no download.
    const nodeDir = path.resolve(path.dirname(process.execPath), '..');
    expect(fs.existsSync(path.join(nodeDir, 'include', 'node', 'common.gypi'))).toBe(true);
    const manifestPath = path.join(dir, 'package.json');
    const project = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as Record<string, unknown>;
    project.scripts = { gyp: `cd node_modules/${manifest.name} && node-gyp rebuild --nodedir=${JSON.stringify(nodeDir)}` };
    fs.writeFileSync(manifestPath, JSON.stringify(project, null, 2));
    fs.rmSync(path.join(installed, 'build'), { recursive: true });
    run('npm', ['run', 'gyp'], dir, userEnv({ AMULET_CACHE_DIR: path.join(dir, 'empty-cache'), CCACHE_DIR: ccacheDir }));
    expect(fs.existsSync(path.join(installed, 'build', 'Release', 'amulet.node'))).toBe(true);
    runCheck(dir, 'check.cjs');
  }, 60 * minutes);
});

const vulkanBuild = path.join(root, 'build-vulkan', 'Release', 'amulet.node');
const vulkanPackage = `@${manifest.name}/${platform}-vulkan`;

/** What a project sees of the addon it loads: the variant, whether it found a GPU, or the error. */
const variantCheck = `
try {
  const { systemInfo } = require('amulet-llm');
  const { addon, gpuOffload } = systemInfo();
  console.log(JSON.stringify({ variant: addon.variant, gpuOffload, file: addon.file }));
} catch (error) {
  console.log(JSON.stringify({ code: error.code, message: error.message }));
}
`;

(hasPrebuild && fs.existsSync(vulkanBuild) ? describe : describe.skip)(`the ${vulkanPackage} variant package`, () => {
  test('npm pack makes it; installed beside the CPU package, it loads on a Vulkan device, and AMULET_VARIANT forces a variant', () => {
    // The build in build-vulkan/ (npm run build:vulkan), packed: nothing is compiled when it is current.
    run(process.execPath, [path.join(root, 'scripts', 'prebuild.mjs'), '--variant', 'vulkan'], root, userEnv());
    const packed = `${manifest.name}-${platform}-vulkan-${manifest.version}.tgz`;
    const variantTarball = path.join(work, packed);
    fs.renameSync(path.join(root, packed), variantTarball);
    const files = run('tar', ['-tzf', variantTarball], work).trim().split('\n').sort();
    expect(files).toEqual(['LICENSE', 'README.md', 'amulet.node', 'ggml-rpc-server', 'package.json']
      .map((file) => `package/${file}`));
    process.stdout.write(`[package] ${packed}: ${(fs.statSync(variantTarball).size / 1048576).toFixed(2)} MiB\n`);

    const dir = newProject('consumer-vulkan', { [vulkanPackage]: `file:${variantTarball}` });
    npmInstall(dir, userEnv({ CC: '/bin/false', CXX: '/bin/false' }));
    fs.writeFileSync(path.join(dir, 'check.cjs'), variantCheck);
    const check = (variant?: string) => JSON.parse(run(process.execPath, ['check.cjs'], dir,
      userEnv(variant === undefined ? {} : { AMULET_VARIANT: variant })).trim()) as
      { variant?: string; gpuOffload?: boolean; file?: string; code?: string; message?: string };

    const forced = check('vulkan');
    expect(forced.variant).toBe('vulkan');
    expect(forced.file).toBe(path.join(dir, 'node_modules', vulkanPackage, 'amulet.node'));
    // Unforced, the variant is taken where it finds a device (lavapipe, made visible by the tests' global setup).
    expect(check().variant).toBe(forced.gpuOffload ? 'vulkan' : 'cpu');
    expect(check('cpu')).toMatchObject({ variant: 'cpu', gpuOffload: false });
    expect(check('cuda')).toMatchObject({
      code: 'ERR_NATIVE_MISSING',
      message: expect.stringContaining(`install @${manifest.name}/${platform}-cuda`),
    });
  }, 30 * minutes);
});
