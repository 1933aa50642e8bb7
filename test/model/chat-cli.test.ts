/**
 * `amulet chat`, compiled and spawned with its stdin a pipe, as a script
 * would drive it: messages answered in turn, slash commands that change the
 * preferences and the method between turns, a preference file, and Ctrl-C,
 * which stops a running answer and, with none running, leaves.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { compileCli, runCli } from '../support/cli-process';
import { endlessSeed, ENDLESS_TEMPERATURE } from '../support/endless-seed';
import { ensureFixtureModel } from '../support/fixtures';
import { testThreads } from '../support/models';
import { useTestModel } from '../support/sessions';

const smollm = { name: 'smollm2-135m-instruct' } as const;
const model = useTestModel(smollm);
let modelPath: string;
let folder: string;

beforeAll(async () => {
  compileCli();
  modelPath = await ensureFixtureModel(smollm.name);
  folder = mkdtempSync(join(tmpdir(), 'amulet-chat-'));
});
afterAll(() => {
  rmSync(folder, { recursive: true, force: true });
});

const modelArgs = (): string[] => ['--model', modelPath, '--threads', String(testThreads), '--context-size', '1024'];

it('answers each message in turn and applies /pref, /weight, /method and /reset between turns', async () => {
  const { child, outcome } = runCli(['chat', ...modelArgs(), '--max-tokens', '8'], { stdin: 'pipe' });
  child.stdin!.end([
    'Name a colour.', '/pref Be concise.', '/weight 2', '/pref', '/method', '/method la', '/method', 'Why that one?',
    '/reset', '/frobnicate', '/exit', 'This line is never read.', '',
  ].join('\n'));
  const { code, stdout, stderr } = await outcome;
  expect(code).toBe(0);
  // The first answer is the model's own: a fresh session with the same settings says the same.
  const reference = model().createSession({ threads: testThreads, contextSize: 1024, method: 'base' });
  const first = await reference.prompt('Name a colour.', { method: 'base', maxTokens: 8 });
  await reference.dispose();
  const firstAnswer = first.text.endsWith('\n') ? first.text : `${first.text}\n`;
  expect(stdout.startsWith(firstAnswer)).toBe(true);
  const rest = stdout.slice(firstAnswer.length);
  expect(rest.startsWith('1. [2] Be concise.\nmethod amulet (auto)\nmethod la\n')).toBe(true);
  // Then the second answer, and nothing after /exit.
  expect(rest.length).toBeGreaterThan('1. [2] Be concise.\nmethod amulet (auto)\nmethod la\n'.length);
  expect(stderr).toMatch(/^amulet chat: .*; method base, 0 preference\(s\)/);
  for (const note of ['preference 1 added', 'preference 1 now has weight 2', 'method la', 'conversation forgotten',
    'amulet: unknown command /frobnicate; /help lists them']) {
    expect(stderr).toContain(note);
  }
  expect(stderr).not.toMatch(/ERR_/);
});

it('--preference-file loads a profile: its preferences, with their weights, and amulet as the method', async () => {
  const profile = join(folder, 'profile.json');
  writeFileSync(profile, JSON.stringify([{ text: 'Be concise.', weight: 1.5 }, 'Be kind.']));
  const { child, outcome } = runCli(['chat', ...modelArgs(), '--preference-file', profile], { stdin: 'pipe' });
  child.stdin!.end('/pref\n/method\n');
  const { code, stdout } = await outcome;
  expect(code).toBe(0);
  expect(stdout).toBe('1. [1.5] Be concise.\n2. [1] Be kind.\nmethod amulet (auto)\n');
});

it('Ctrl-C stops the answer being written and the chat goes on; Ctrl-C with no answer running leaves', async () => {
  const budget = 300;
  const seed = await endlessSeed(model(), budget);
  let stage: 'answering' | 'stopping' | 'asked' | 'leaving' = 'answering';
  const { child, outcome } = runCli(['chat', ...modelArgs(), '--max-tokens', String(budget),
    '--temperature', String(ENDLESS_TEMPERATURE), '--seed', String(seed)], {
    stdin: 'pipe',
    onStdout: ({ stdout }) => {
      if (stage === 'answering') {
        stage = 'stopping';
        child.kill('SIGINT');
      } else if (stage === 'asked' && stdout.endsWith('method base (auto)\n')) {
        stage = 'leaving';
        child.kill('SIGINT');
      }
    },
    onStderr: ({ stderr }) => {
      if (stage === 'stopping' && stderr.includes('[stopped]')) {
        stage = 'asked';
        child.stdin!.write('/method\n');
      }
    },
  });
  child.stdin!.write('Tell me a story.\n');
  const { code, stderr } = await outcome;
  expect(stage).toBe('leaving');
  expect(code).toBe(0);
  expect(stderr.match(/\[stopped\]/g)).toHaveLength(1);
});

it('--help lists the commands; a bad flag exits 2 with one line', async () => {
  const help = await runCli(['chat', '--help']).outcome;
  expect(help.code).toBe(0);
  for (const text of ['/pref <text>', '/weight <n>', '/method', '/reset', '/exit', '--preference-file']) {
    expect(help.stdout).toContain(text);
  }
  const bad = await runCli(['chat', '--frobnicate']).outcome;
  expect(bad.code).toBe(2);
  expect(bad.stderr).toBe('amulet: unknown option --frobnicate (see amulet chat --help)\n');
});
