/**
 * The compiled `amulet` command, run as users run it: help, version, the
 * one-line usage errors and their exit code, and a few short runs on the
 * SmolLM2 fixture for the real output, the error mapping, Ctrl-C, and a
 * model on a worker that `amulet rpc-server` runs.
 * test/unit/cli-arguments.test.ts tests the parser itself.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandLineOptions } from '../../cli/arguments';
import { cliPath, compileCli, root, runCli as spawnCli, type CliOutcome, type CliWatch } from '../support/cli-process';
import { ensureFixtureModel } from '../support/fixtures';
import { startWorker } from '../support/rpc-workers';

/** Runs the CLI to its end; `onStdout` sees each piece of stdout as it arrives, with the child process. */
function runCli(args: readonly string[], onStdout?: (child: CliWatch['child']) => void): Promise<CliOutcome> {
  return spawnCli(args, { onStdout: onStdout && (({ child }) => onStdout(child)) }).outcome;
}

beforeAll(compileCli);

describe('amulet command', () => {
  it('--help exits 0 and documents every flag', async () => {
    const { code, stdout } = await runCli(['--help']);
    expect(code).toBe(0);
    for (const [name, option] of Object.entries(commandLineOptions)) {
      expect(stdout).toContain(`--${name}`);
      if ('short' in option) expect(stdout).toContain(`-${option.short}, --${name}`);
    }
    expect(stdout).toMatch(/Examples:\n\s+amulet "/);
  });

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
    const { code, stdout } = await runCli(['--version']);
    expect(code).toBe(0);
    expect(stdout).toBe(`${version}\n`);
  });

  it.each([
    [['q', '-p', 'x', '--alpha', 'nan'], /^amulet: --alpha must be a number > 0 \(got "nan"\)/],
    [['q', '-p', 'x', '--method', 'nope'], /^amulet: --method must be one of amulet, amulet-iterative, la, pref, base/],
    [['q', '-p', 'x', '--realign-on', 'gpu'], /^amulet: --realign-on must be one of auto, cpu, backend \(got "gpu"\)/],
    [['q', '-p', 'x', '--max-tokens', '-1'], /^amulet: --max-tokens must be an integer from 1 to \d+ \(got "-1"\)/],
    [['q', '-p', 'x', '--top-p', '1.5'], /^amulet: --top-p must be a number in \(0, 1\]/],
    [['q', '-p', 'x', '--seed', '2.5'], /^amulet: --seed must be an integer/],
    [['q', '-p', 'x', '--gpu-layers', 'all'], /^amulet: --gpu-layers must be an integer from 0 to 100000, or max \(got "all"\)/],
    [['q', '-p', 'x', '--iterations'], /^amulet: Option '--iterations <value>' argument missing/],
    [['q', '-p', 'x', '--frobnicate'], /^amulet: unknown option --frobnicate/],
    [['q', '--weight', '2', '-p', 'x'], /^amulet: --weight 2 has no --preference without a weight before it/],
    [['q'], /^amulet: --method amulet needs at least one --preference/],
    [['q', '-p', 'x', '-w', '-1', '--method', 'pref'], /^amulet: the pref method .* cannot follow a negative weight/],
    [['q', '-p', 'x', '--model', 'm.gguf', '--preference-file', 'no-such-file.json'], /^amulet: --preference-file "no-such-file.json": ENOENT/],
    [['q', '-p', 'x', '--compare', '--method', 'base'], /^amulet: --compare already shows base and pref/],
    [['-p', 'x'], /^amulet: missing the question/],
    [['two', 'questions', '-p', 'x'], /^amulet: expected one question, got 2 arguments/],
  ])('%j exits 2 with one line naming the problem', async (args, message) => {
    const { code, stdout, stderr } = await runCli(args);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toMatch(message);
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('exits 1 with the library error code for a missing model file', async () => {
    const { code, stdout, stderr } = await runCli(['q', '-p', 'x', '--model', join(root, 'no-such-model.gguf')]);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr).toMatch(/^amulet: ERR_MODEL_NOT_FOUND: .*no-such-model\.gguf/);
  });

  describe('on the SmolLM2 fixture', () => {
    let modelPath: string;
    // One thread: the test machine's few cores are shared, and spinning threads slow each other down.
    const modelArgs = (): string[] => ['--model', modelPath, '--threads', '1'];

    beforeAll(async () => {
      modelPath = await ensureFixtureModel('smollm2-135m-instruct');
    });

    it('--json prints one JSON object with the run', async () => {
      const { code, stdout, stderr } = await runCli([
        'How do I boil an egg?', '-p', 'Your answer should be concise as much as possible.', '-w', '1.5',
        '--max-tokens', '16', '--json', ...modelArgs(),
      ]);
      expect(stderr).toBe('');
      expect(code).toBe(0);
      const report = JSON.parse(stdout) as Record<string, unknown> & { runs: Record<string, unknown>[] };
      expect(report).toMatchObject({
        question: 'How do I boil an egg?',
        preferences: [{ text: 'Your answer should be concise as much as possible.', weight: 1.5 }],
        method: 'amulet',
        parameters: { alpha: 1.3, lambda: 2, eta: 10, iterations: 60, maxTokens: 16 },
        model: { offloadedLayers: 0, outputOnGpu: false },
      });
      expect(report.runs).toHaveLength(1);
      const [run] = report.runs;
      expect(run).toMatchObject({ method: 'amulet', text: expect.any(String), finishReason: expect.any(String), realignedOn: 'cpu' });
      expect(run!.generatedTokenCount).toBeGreaterThan(0);
      expect(run!.generatedTokenCount).toBeLessThanOrEqual(16);
      expect(run!.tokensPerSecond).toBeGreaterThan(0);
      expect(run!.guidanceScale).toBeCloseTo(1.5338, 3);
    });

    it('--compare --json runs base, pref and the realigning method', async () => {
      const { code, stdout } = await runCli([
        'Name a fruit.', '-p', 'Be enthusiastic.', '--compare', '--method', 'la', '--max-tokens', '12', '--json',
        ...modelArgs(),
      ]);
      expect(code).toBe(0);
      const report = JSON.parse(stdout) as { compare: boolean; runs: { method: string; guidanceScale: number }[] };
      expect(report.compare).toBe(true);
      expect(report.runs.map((run) => run.method)).toEqual(['base', 'pref', 'la']);
      expect(report.runs.map((run) => run.guidanceScale)).toEqual([-1, 0, 2]);
    });

    it('--grammar-file and --stop shape the answer; --json reports them', async () => {
      const grammar = join(mkdtempSync(join(tmpdir(), 'amulet-cli-grammar-')), 'yes-no.gbnf');
      writeFileSync(grammar, 'root ::= "yes" | "no"\n');
      const { code, stdout } = await runCli([
        'Is Paris in France?', '--method', 'base', '--grammar-file', grammar, '--stop', 'es', '--max-tokens', '8',
        '--json', ...modelArgs(),
      ]);
      expect(code).toBe(0);
      const report = JSON.parse(stdout) as { parameters: Record<string, unknown>; runs: Record<string, unknown>[] };
      expect(report.parameters.outputControls).toEqual({ stop: ['es'], grammar: 'root ::= "yes" | "no"\n' });
      const [run] = report.runs;
      // "yes" ends at the stop string; "no" ends with the grammar.
      expect(run).toEqual(expect.objectContaining(run!.text === 'y'
        ? { finishReason: 'stop', stopString: 'es' }
        : { text: 'no', finishReason: 'stop', stopString: null }));
    });

    it('says on stderr when the chat template falls back', async () => {
      const { code, stderr } = await runCli([
        'Hi.', '--method', 'base', '--chat-template', "{{ raise_exception('broken') }}", '--max-tokens', '2',
        ...modelArgs(),
      ]);
      expect(code).toBe(0);
      expect(stderr).toMatch(/^amulet: warning: the chatTemplate given failed as Jinja .*broken.*ChatML/m);
    });

    it('stops on Ctrl-C mid-answer and exits 130', async () => {
      // The literal loop at 3000 iterations makes each token slow enough to interrupt between two of them.
      let interrupted = false;
      const { code, stdout } = await runCli(
        ['Tell me a story about a dragon.', '-p', 'Be verbose.', '--method', 'amulet-iterative', '--iterations', '3000',
          '--max-tokens', '24', ...modelArgs()],
        (child) => {
          if (!interrupted) child.kill('SIGINT');
          interrupted = true;
        },
      );
      expect(interrupted).toBe(true);
      expect(code).toBe(130);
      expect(stdout.endsWith('\n')).toBe(true);
    });

    it('--rpc puts every layer on a worker that `amulet rpc-server` runs, which SIGTERM stops', async () => {
      const worker = await startWorker(undefined, (port) =>
        [process.execPath, [cliPath, 'rpc-server', '--port', String(port), '--threads', '1']]);
      try {
        const { code, stdout, stderr } = await runCli([
          'How do I boil an egg?', '-p', 'Be concise.', '--max-tokens', '8', '--json', '--rpc', worker.endpoint,
          ...modelArgs(),
        ]);
        expect(stderr).toBe('');
        expect(code).toBe(0);
        const report = JSON.parse(stdout) as { model: { devices: { kind: string; description: string; output: boolean }[] };
          runs: { realignedOn: string }[] };
        expect(report.model.devices.filter((device) => device.kind === 'rpc'))
          .toEqual([expect.objectContaining({ description: worker.endpoint, output: true })]);
        expect(report.runs[0]!.realignedOn).toBe('backend');
      } finally {
        await worker.stop('SIGTERM');
      }
      // The command passed the signal on: nothing listens on the port any more.
      const { code, stderr } = await runCli(['q', '-p', 'x', '--rpc', worker.endpoint, ...modelArgs()]);
      expect(code).toBe(1);
      expect(stderr).toMatch(new RegExp(`^amulet: ERR_RPC_UNREACHABLE: cannot reach the RPC server at ${worker.endpoint}`));
    });
  });
});

describe('amulet rpc-server', () => {
  it('--help exits 0 and says what exposing a worker means', async () => {
    const { code, stdout } = await runCli(['rpc-server', '--help']);
    expect(code).toBe(0);
    expect(stdout).toContain('no authentication');
  });

  it('refuses an address other machines can reach without --allow-remote, exiting 2', async () => {
    const { code, stderr } = await runCli(['rpc-server', '--host', '0.0.0.0']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^amulet: --host 0\.0\.0\.0 would let anyone .*--allow-remote/);
  });
});
