/**
 * The `amulet` command line's parsing, its preference files and the compare
 * view, through the exported functions: no model, no process.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCommandLine, parsePreference, readPreferenceFile, UsageError, type RunRequest } from '../../cli/arguments';
import { renderComparison, type ComparedAnswer } from '../../cli/compare-view';
import { DEFAULT_JUDGE_MODEL, parseEvalCommandLine, type EvalRequest } from '../../cli/commands/eval/arguments';
import { parseRpcServerCommandLine, rpcServerArguments, type RpcServerRequest } from '../../cli/rpc-server-arguments';
import { DEFAULT_MODEL } from '../../cli/model-loading';
import { browserUrl } from '../../cli/open-browser';
import { parseServeCommandLine } from '../../cli/serve-arguments';
import { wrapText } from '../../cli/text-wrap';

/** The request a command line parses to; fails the test if it is not a run. */
function parsedRequest(args: readonly string[]): RunRequest {
  const commandLine = parseCommandLine(args);
  if (commandLine.kind !== 'run') throw new Error(`expected a run, got ${commandLine.kind}`);
  return commandLine.request;
}

describe('parsePreference', () => {
  it.each([
    'Be concise.',
    'Answer with times as 10:30',
    'Be concise.:0.5',
    'Avoid jargon:-1',
    'Use a 16:9 ratio',
    'Ends with a colon:',
    '  Spaces stay  ',
    'Meet at 09:00:00 sharp',
  ])('takes %j verbatim, reading no weight out of it', (argument) => {
    expect(parsePreference(argument)).toBe(argument);
  });

  it.each(['', '   '])('refuses %j', (argument) => {
    expect(() => parsePreference(argument)).toThrow(UsageError);
  });
});

/** The files the command lines below name, in a folder of their own. */
const folder = mkdtempSync(join(tmpdir(), 'amulet-cli-arguments-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

function write(name: string, content: string): string {
  const path = join(folder, name);
  writeFileSync(path, content);
  return path;
}

describe('readPreferenceFile', () => {
  it('reads texts and { text, weight } entries, colons and digits included', () => {
    const path = write('ok.json', JSON.stringify(['Answer with times as 10:30', { text: 'Use slang.', weight: -1 },
      { name: 'formal', text: 'Be formal: 2 levels up.' }]));
    expect(readPreferenceFile(path)).toEqual([
      { text: 'Answer with times as 10:30', weight: 1 },
      { text: 'Use slang.', weight: -1 },
      { text: 'Be formal: 2 levels up.', weight: 1 },
    ]);
  });

  it.each([
    ['not JSON', '[oops'],
    ['an empty array', '[]'],
    ['an object', '{"text": "x"}'],
    ['a blank text', '[" "]'],
    ['a string weight', '[{"text": "x", "weight": "2"}]'],
  ])('refuses a file holding %s with a usage error', (label, content) => {
    expect(() => readPreferenceFile(write(`${label.replace(/\s/g, '-')}.json`, content))).toThrow(UsageError);
  });
});

describe('parseCommandLine', () => {
  it('fills in the library defaults', () => {
    const request = parsedRequest(['Why?', '-p', 'Be brief.']);
    expect(request).toMatchObject({
      question: 'Why?',
      preferences: [{ text: 'Be brief.', weight: 1 }],
      method: 'amulet',
      compare: false,
      realign: { alpha: 1.3, lambda: 2, eta: 10, iterations: 60, ratio: 2, plausibility: 0, klBudget: 0 },
      sampling: {},
      maxTokens: 256,
      modelPath: DEFAULT_MODEL,
    });
  });

  it('gives each --weight to the earliest preference before it that has none', () => {
    const interleaved = parsedRequest(['q', '-p', 'A', '--weight', '2', '-p', 'B', '-w', '-1']);
    const grouped = parsedRequest(['q', '-p', 'A', '-p', 'B', '--weight', '2', '--weight', '-1']);
    const mixed = parsedRequest(['q', '-p', 'A:0.5', '-w', '0.5', '-p', 'B', '-p', 'C', '-w', '-2']);
    const expected = [{ text: 'A', weight: 2 }, { text: 'B', weight: -1 }];
    expect(interleaved.preferences).toEqual(expected);
    expect(grouped.preferences).toEqual(expected);
    expect(mixed.preferences).toEqual([{ text: 'A:0.5', weight: 0.5 }, { text: 'B', weight: -2 }, { text: 'C', weight: 1 }]);
  });

  it('reads negative numbers as values, sampling flags and --compare', () => {
    const request = parsedRequest([
      'q', '-p', 'A', '--compare', '--method', 'la', '--ratio', '0', '--temperature', '0.7', '--top-k', '40',
      '--top-p', '0.9', '--min-p', '0.05', '--repeat-penalty', '1.1', '--seed', '7', '--max-tokens', '12',
      '--realign-on', 'backend', '--gpu-layers', 'max', '--kl-budget', '0.5', '--echo-guard', 'true',
    ]);
    expect(request).toMatchObject({
      compare: true,
      method: 'la',
      realign: { ratio: 0, klBudget: 0.5, echoGuard: true },
      sampling: { temperature: 0.7, topK: 40, topP: 0.9, minP: 0.05, repeatPenalty: 1.1, seed: 7 },
      maxTokens: 12,
      realignOn: 'backend',
      gpuLayers: 'max',
    });
    expect(parsedRequest(['q', '-p', 'A', '--gpu-layers', '12']).gpuLayers).toBe(12);
  });

  describe('output controls', () => {
    it('gives none when no flag is given', () => {
      expect(parsedRequest(['q', '-p', 'A']).outputControls).toEqual({});
    });

    it('reads repeated --stop and --logit-bias, and the grammar and schema files', () => {
      const grammar = write('yes-no.gbnf', 'root ::= "yes" | "no"\n');
      const schema = write('schema.json', '{ "type": "object", "required": ["a"] }');
      expect(parsedRequest(['q', '-p', 'A', '--stop', '\nUser:', '--stop', 'END', '--logit-bias', '15=-inf',
        '--logit-bias', '7=2.5', '--logit-bias', '9=-1', '--grammar-file', grammar]).outputControls).toEqual({
        stop: ['\nUser:', 'END'], logitBias: { 15: -Infinity, 7: 2.5, 9: -1 }, grammar: 'root ::= "yes" | "no"\n',
      });
      expect(parsedRequest(['q', '-p', 'A', '--json-schema-file', schema]).outputControls)
        .toEqual({ jsonSchema: { type: 'object', required: ['a'] } });
      expect(parsedRequest(['q', '-p', 'A', '--json-object']).outputControls).toEqual({ jsonSchema: true });
    });

    it.each([
      [['--stop', ''], /--stop needs some text/],
      [Array.from({ length: 17 }, (_, index) => ['--stop', `s${index}`]).flat(), /--stop may be given at most 16 times/],
      [['--logit-bias', '15'], /--logit-bias must be <token id>=<number or -inf> \(got "15"\)/],
      [['--logit-bias', 'x=1'], /--logit-bias must be/],
      [['--echo-guard', 'yes'], /--echo-guard must be a boolean \(got "yes"\)/],
      [['--logit-bias', '15=inf'], /--logit-bias must be/],
      [['--grammar-file', 'no-such.gbnf'], /--grammar-file "no-such.gbnf": ENOENT/],
      [['--json-schema-file', 'no-such.json'], /--json-schema-file "no-such.json": ENOENT/],
      [['--json-object', '--grammar-file', 'g.gbnf'], /--grammar-file and --json-object cannot be used together/],
    ])('%j is a usage error', (args, message) => {
      expect(() => parseCommandLine(['q', '-p', 'A', ...args])).toThrow(message);
    });

    it('refuses an empty grammar file and a schema file that holds no JSON object', () => {
      const empty = write('empty.gbnf', ' \n');
      const array = write('array.json', '[1]');
      const broken = write('broken.json', '{ "type": ');
      expect(() => parseCommandLine(['q', '-p', 'A', '--grammar-file', empty])).toThrow(/is empty/);
      expect(() => parseCommandLine(['q', '-p', 'A', '--json-schema-file', array])).toThrow(/must hold a JSON object/);
      expect(() => parseCommandLine(['q', '-p', 'A', '--json-schema-file', broken])).toThrow(UsageError);
    });
  });

  it('reads --rpc and --tensor-split as comma-separated lists', () => {
    const request = parsedRequest(['q', '-p', 'A', '--rpc', '10.0.0.2:50052, worker-b.lan:50053', '--tensor-split', '1,3.5']);
    expect(request.rpcServers).toEqual(['10.0.0.2:50052', 'worker-b.lan:50053']);
    expect(request.tensorSplit).toEqual([1, 3.5]);
    expect(parsedRequest(['q', '-p', 'A']).rpcServers).toBeUndefined();
  });

  it.each([
    [['--rpc', '10.0.0.2'], /--rpc must be a list of at most 16 host:port addresses/],
    [['--rpc', '10.0.0.2:0'], /--rpc must be/],
    [['--rpc', '10.0.0.2:50052,'], /--rpc must be/],
    [['--rpc', '[::1]:50052'], /--rpc must be/],
    [['--tensor-split', '1,-1'], /--tensor-split must be a list of at most 16 numbers, each a number >= 0, not all 0/],
    [['--tensor-split', '0,0'], /--tensor-split must be/],
    [['--tensor-split', '1,x'], /--tensor-split must be/],
  ])('refuses %j', (args, message) => {
    expect(() => parseCommandLine(['q', '-p', 'A', ...args])).toThrow(message);
  });

  it('lets --help and --version win over everything else', () => {
    expect(parseCommandLine(['--alpha', 'nan', '--help'])).toEqual({ kind: 'help' });
    expect(parseCommandLine(['--version'])).toEqual({ kind: 'version' });
  });
});

describe('amulet serve --open', () => {
  const open = (args: readonly string[]): boolean => {
    const commandLine = parseServeCommandLine(args);
    if (commandLine.kind !== 'run') throw new Error('expected a run');
    return commandLine.request.open;
  };

  it('is off unless given, and takes no value', () => {
    expect(open([])).toBe(false);
    expect(open(['--open', '--port', '0'])).toBe(true);
    expect(() => parseServeCommandLine(['--open=yes'])).toThrow(UsageError);
  });

  it('opens a server listening on every address at its loopback address', () => {
    expect(browserUrl('http://0.0.0.0:8080')).toBe('http://127.0.0.1:8080/');
    expect(browserUrl('http://[::]:8080')).toBe('http://[::1]:8080/');
    expect(browserUrl('http://127.0.0.1:9000')).toBe('http://127.0.0.1:9000/');
  });
});

describe('amulet rpc-server arguments', () => {
  const run = (args: readonly string[]): RpcServerRequest => {
    const commandLine = parseRpcServerCommandLine(args);
    if (commandLine.kind !== 'run') throw new Error('expected a run');
    return commandLine.request;
  };

  it("binds to the loopback address on llama.cpp's port by default, and passes the rest on", () => {
    expect(run([])).toEqual({ host: '127.0.0.1', port: 50052, threads: undefined, devices: undefined, cache: false });
    const request = run(['--port', '50100', '--threads', '2', '--device', 'CUDA0,CUDA1', '--cache']);
    expect(rpcServerArguments(request)).toEqual(
      ['--host', '127.0.0.1', '--port', '50100', '--threads', '2', '--device', 'CUDA0,CUDA1', '--cache']);
    expect(run(['--host', '127.0.0.2']).host).toBe('127.0.0.2');
  });

  it('refuses an address other machines can reach unless --allow-remote says so', () => {
    for (const host of ['0.0.0.0', '192.168.1.20']) {
      expect(() => run(['--host', host])).toThrow(/no authentication.*--allow-remote/);
      expect(run(['--host', host, '--allow-remote']).host).toBe(host);
    }
  });

  it.each([
    [['--host', 'localhost'], /--host must be an IPv4 address/],
    [['--port', '0'], /--port must be an integer from 1 to 65535/],
    [['--threads', '0'], /--threads must be an integer from 1 to 1024/],
    [['--mem', '2048'], /--mem is gone.*--tensor-split/],
    [['--device', ','], /--device needs at least one device name/],
    [['--bogus'], /unknown option --bogus/],
  ])('refuses %j', (args, message) => {
    expect(() => run(args)).toThrow(message);
  });
});

describe('compare view', () => {
  const answer = (method: ComparedAnswer['method'], text: string): ComparedAnswer =>
    ({ method, text, generatedTokenCount: 3, tokensPerSecond: 12.5, finishReason: 'stop', guidanceScale: 4.6487 });

  it('wraps at spaces, keeps line breaks and splits overlong words', () => {
    expect(wrapText('one two three\n\nfour', 7)).toEqual(['one two', 'three', '', 'four']);
    expect(wrapText('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
  });

  it('puts three columns within a wide terminal and stacks them on a narrow one', () => {
    const answers = [answer('base', 'word '.repeat(60)), answer('pref', 'short'), answer('amulet', 'x'.repeat(90))];
    const wide = renderComparison(answers, 120);
    for (const line of wide.trimEnd().split('\n')) expect(Array.from(line).length).toBeLessThan(120);
    expect(wide).toContain('amulet (s = 4.65)');
    const narrow = renderComparison(answers, 80);
    expect(narrow).toMatch(/^── base · 3 tokens · 12\.5 tok\/s ──\n/);
    expect(narrow).toContain('── pref · 3 tokens · 12.5 tok/s ──\nshort\n');
  });
});


describe('amulet eval command line', () => {
  const evalRequest = (args: readonly string[]): EvalRequest => {
    const commandLine = parseEvalCommandLine(['--questions', 'q.json', ...args]);
    if (commandLine.kind !== 'run') throw new Error('expected a run');
    return commandLine.request;
  };

  it('defaults to the paper\'s set, the four methods, fluency on, no judge', () => {
    const request = evalRequest([]);
    expect(request.preferenceSets).toEqual(['paper']);
    expect(request.variants.map((variant) => variant.name)).toEqual(['base', 'pref', 'la', 'amulet']);
    expect(request).toMatchObject({ fluency: true, storedOnly: false, judgePath: undefined, plausibility: 0 });
  });

  it('reads sets, variants, the judge and its references', () => {
    const request = evalRequest(['--preference-set', 'paper,extended', '--methods', 'base,pref',
      '--variant', 'gentle=amulet:plausibility=0.1:alpha=1.3', '--variant', 'capped=amulet:klBudget=0.5:echoGuard=true', '--judge',
      '--judge-against', 'pref', '--stored-only', '--no-fluency', '--plausibility', '0.05', '--kl-budget', '0.2']);
    expect(request.preferenceSets).toEqual(['paper', 'extended']);
    expect(request.variants).toEqual([
      { name: 'base', method: 'base', options: {} }, { name: 'pref', method: 'pref', options: {} },
      { name: 'gentle', method: 'amulet', options: { plausibility: 0.1, alpha: 1.3 } },
      { name: 'capped', method: 'amulet', options: { klBudget: 0.5, echoGuard: true } },
    ]);
    expect(request).toMatchObject({ judgePath: DEFAULT_JUDGE_MODEL, judgeAgainst: ['pref'], storedOnly: true,
      fluency: false, plausibility: 0.05, klBudget: 0.2 });
  });

  it.each([
    [['--variant', 'amulet=amulet:alpha=1'], /a method's own name/],
    [['--variant', 'a=amulet', '--variant', 'a=la'], /named twice/],
    [['--judge-against', 'pref'], /needs --judge/],
    [['--judge', '--judge-against', 'beam'], /--judge-against/],
    [['--plausibility', '2'], /--plausibility must be a number in \[0, 1\]/],
    [['--kl-budget', '-1'], /--kl-budget must be a number >= 0/],
  ])('refuses %j', (args, message) => {
    expect(() => evalRequest(args)).toThrow(UsageError);
    expect(() => evalRequest(args)).toThrow(message);
  });
});
