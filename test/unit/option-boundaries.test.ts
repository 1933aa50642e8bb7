/**
 * One verdict per value, whichever door it comes in by: every rule of the
 * table gets its boundary values (min - 1, min, max, max + 1, a wrong type,
 * an unknown choice) through the library's option resolution, the `amulet`,
 * `amulet chat`, `amulet serve` and `amulet eval` parsers, and the server's
 * request parser, and each that takes the option must agree with the rule.
 * No model.
 */
import { isDeepStrictEqual } from 'node:util';
import { commandLineOptions, parseCommandLine } from '../../cli/arguments';
import { chatOptions, parseChatCommandLine } from '../../cli/chat-arguments';
import { evalOptions, parseEvalCommandLine } from '../../cli/commands/eval/arguments';
import { parseServeCommandLine, serveOptions } from '../../cli/serve-arguments';
import { rules, type OptionRule, type RuleName } from '../../lib/option-rules';
import { optionValue, resolveOutputControls, resolveRealign, resolveSampling, samplingDefaults } from '../../lib/options';
import { parseChatRequest } from '../../lib/server/chat-request';

const vocabularySize = 1000;

/** A value, what the rule says of it, and how a command line writes it (undefined: it cannot). */
interface Case {
  value: unknown;
  accepted: boolean;
  argv?: string[];
}

function flagArgs(rule: OptionRule, text: string): string[] {
  return [`--${rule.flag!}`, text];
}

/** The boundary values of a rule. */
function cases(rule: OptionRule): Case[] {
  const one = (value: unknown, accepted: boolean, text?: string): Case =>
    ({ value, accepted, argv: text === undefined ? undefined : flagArgs(rule, text) });
  switch (rule.kind) {
    case 'number': {
      const list: Case[] = [one('abc', false, 'abc')];
      const step = rule.integer ? 1 : 0.5;
      if (rule.min !== undefined) {
        list.push(one(rule.min - step, false, String(rule.min - step)));
        list.push(one(rule.min, !rule.minExclusive, String(rule.min)));
        list.push(one(rule.min + step, true, String(rule.min + step)));
      }
      if (rule.max !== undefined) {
        list.push(one(rule.max, !rule.maxExclusive, String(rule.max)));
        list.push(one(rule.max + step, false, String(rule.max + step)));
      }
      if (rule.min === undefined && rule.max === undefined) list.push(one(-1.5, !rule.integer, '-1.5'));
      if (rule.integer) list.push(one((rule.min ?? 0) + 0.5, false, String((rule.min ?? 0) + 0.5)));
      return list;
    }
    case 'choice':
      return [...rule.values.map((value) => one(value, true, value)), one('nope', false, 'nope'), one(3, false, '3')];
    case 'boolean':
      return [one(true, true), one(false, true), one('yes', false)];
    case 'text':
      return [one('', true), one('some text', true, 'some text'), one(3, false)];
    case 'jsonSchema':
      return [one(true, true), one({ type: 'object' }, true), one([], false), one('{}', false)];
    case 'textList': {
      const texts = (count: number) => Array.from({ length: count }, (_, index) => `s${index}`);
      const entries = (list: string[]): Case['argv'] => list.flatMap((text) => flagArgs(rule, text));
      return [
        { value: texts(rule.maxCount), accepted: true, argv: entries(texts(rule.maxCount)) },
        { value: texts(rule.maxCount + 1), accepted: false, argv: entries(texts(rule.maxCount + 1)) },
        { value: [''], accepted: false, argv: entries(['']) },
        { value: 5, accepted: false },
      ];
    }
    case 'tokenBias':
      return [
        one({ 5: rule.maxBias }, true, `5=${rule.maxBias}`),
        one({ 5: -rule.maxBias }, true, `5=${-rule.maxBias}`),
        one({ 5: rule.maxBias + 1 }, false, `5=${rule.maxBias + 1}`),
        one({ 5: -rule.maxBias - 0.5 }, false, `5=${-rule.maxBias - 0.5}`),
        one({ 5: -Infinity }, true, '5=-inf'),
        one({ 5: 'x' }, false, '5=x'),
        one({ x: 1 }, false, 'x=1'),
      ];
    case 'list': {
      const items = (count: number, item: string | number) => Array.from({ length: count }, () => item);
      const list = (value: (string | number)[], accepted: boolean) => one(value, accepted, value.join(','));
      if (rule.item === 'endpoint') {
        return [list(['a:1'], true), list(['a:0'], false), list(['a:65536'], false), list(items(rule.maxItems, 'a:1'), true),
          list(items(rule.maxItems + 1, 'a:1'), false), one('a:1', false)];
      }
      return [list([0, 1], true), list([0, 0], false), list([-1], false), list(items(rule.maxItems, 1), true),
        list(items(rule.maxItems + 1, 1), false)];
    }
  }
}

/** Whether a check passes. */
function passes(check: () => unknown): boolean {
  try {
    check();
    return true;
  } catch {
    return false;
  }
}

const realignNames = new Set<string>(['method', 'alpha', 'lambda', 'eta', 'iterations', 'ratio', 'plausibility', 'klBudget']);
const samplingNames = new Set<string>(Object.keys(samplingDefaults));

/** The library's verdict, by the resolution the option goes through. */
function library(name: RuleName, value: unknown): boolean {
  if (realignNames.has(name)) return passes(() => resolveRealign({ [name]: value }));
  if (samplingNames.has(name)) return passes(() => resolveSampling({ [name]: value }));
  if (name === 'stop' || name === 'logitBias' || name === 'grammar' || name === 'jsonSchema') {
    return passes(() => resolveOutputControls({ [name]: value }, vocabularySize));
  }
  const rule: OptionRule = rules[name];
  // A word such as gpuLayers' 'max' is read by the caller; the table's own check is on numbers.
  return passes(() => optionValue(rule, value));
}

/** The OpenAI request fields that carry a library option. */
const serverFields: Partial<Record<RuleName, string>> = {
  temperature: 'temperature', topP: 'top_p', seed: 'seed', frequencyPenalty: 'frequency_penalty',
  presencePenalty: 'presence_penalty', topK: 'top_k', minP: 'min_p', repeatPenalty: 'repeat_penalty',
  repeatLastN: 'repeat_last_n', maxTokens: 'max_tokens', stop: 'stop', logitBias: 'logit_bias',
};

/** Whether a request body can carry the value (JSON has no -Infinity). */
function jsonable(value: unknown): boolean {
  const text = JSON.stringify(value);
  return text !== undefined && isDeepStrictEqual(JSON.parse(text), value);
}

function server(name: RuleName, value: unknown): boolean | undefined {
  const body: Record<string, unknown> = { messages: [{ role: 'user', content: 'Hi' }] };
  if (realignNames.has(name)) {
    body.amulet = { [name]: value };
  } else if (serverFields[name] !== undefined) {
    body[serverFields[name]!] = value;
  } else {
    return undefined;
  }
  return passes(() => parseChatRequest(body, vocabularySize));
}

/** The command-line parsers, each with the options it takes. */
const commandLines: readonly [string, Record<string, unknown>, (argv: string[]) => unknown][] = [
  ['amulet', commandLineOptions, (argv) => parseCommandLine(['q', '-p', 'x', ...argv])],
  ['amulet chat', chatOptions, (argv) => parseChatCommandLine(['-p', 'x', ...argv])],
  ['amulet serve', serveOptions, (argv) => parseServeCommandLine(['-p', 'x', ...argv])],
  ['amulet eval', evalOptions, (argv) => parseEvalCommandLine(['--questions', 'q.json', ...argv])],
];

const table = Object.keys(rules) as RuleName[];

/** Flags that name a file to read the value from, not the value. */
const fileFlags = new Set<RuleName>(['grammar', 'jsonSchema']);

describe.each(table)('the rule %s', (name) => {
  const rule: OptionRule = rules[name];

  it.each(cases(rule).map((entry) => [JSON.stringify(entry.value) ?? String(entry.value), entry] as const))(
    'gives %s the same verdict everywhere', (_label, { value, accepted, argv }) => {
      const verdicts: Record<string, boolean> = { library: library(name, value) };
      const fromServer = server(name, value);
      if (fromServer !== undefined && jsonable(value)) verdicts.server = fromServer;
      for (const [command, options, parse] of commandLines) {
        if (argv !== undefined && !fileFlags.has(name) && rule.flag !== undefined && rule.flag in options) {
          verdicts[command] = passes(() => parse(argv));
        }
      }
      expect(verdicts).toEqual(Object.fromEntries(Object.keys(verdicts).map((door) => [door, accepted])));
    });
});

describe('the doors', () => {
  it('every rule with a flag is on some command line, and the server maps every sampling and realign option', () => {
    for (const name of table) {
      const rule: OptionRule = rules[name];
      if (rule.flag === undefined || name === 'weight' || name === 'grammar' || name === 'jsonSchema') continue;
      expect([name, commandLines.some(([, options]) => rule.flag! in options)]).toEqual([name, true]);
    }
    for (const name of [...realignNames, ...samplingNames] as RuleName[]) {
      const accepted = cases(rules[name]).find((entry) => entry.accepted)!;
      expect([name, server(name, accepted.value)]).toEqual([name, true]);
    }
  });

  it('the 17th stop string fails naming stop; a bias beyond the rule fails naming logit_bias', () => {
    const messages = [{ role: 'user', content: 'Hi' }];
    const stop = Array.from({ length: rules.stop.maxCount + 1 }, (_, index) => `s${index}`);
    expect(() => parseChatRequest({ messages, stop }, vocabularySize)).toThrow(expect.objectContaining({ param: 'stop' }));
    expect(() => parseChatRequest({ messages, logit_bias: { 5: rules.logitBias.maxBias + 1 } }, vocabularySize))
      .toThrow(expect.objectContaining({ param: 'logit_bias' }));
  });
});
