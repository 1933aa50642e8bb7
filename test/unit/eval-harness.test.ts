/**
 * The evaluation harness without a model: the judge's verdict from
 * probabilities and its order-swap combination (with a fake scorer), variants,
 * win-rate aggregation with intervals, the resumable JSONL store, and the
 * report and SVG writer.
 */
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bootstrap, meanOfGroupMeans } from '../../eval/bootstrap';
import type { EvalPreference } from '../../eval/inputs';
import {
  combineOrders, judgeAgainst, judgePair, judgePrompt, VERDICT_CHOICES, VERDICT_PREFIX, type VerdictScorer,
} from '../../eval/judge';
import { planJobs } from '../../eval/plan';
import { extendedPreferences, paperPreferences } from '../../eval/preference-sets';
import { measureAll, preferenceProxies } from '../../eval/proxies/index';
import { writeReport } from '../../eval/report';
import { echoPromptText, type EvalParameters, type ResponseRecord } from '../../eval/runner';
import { compareByProxy, computeScores, winRate, type JudgementRecord } from '../../eval/scores';
import { JsonlStore } from '../../eval/store';
import { renderBarChart } from '../../eval/svg-chart';
import { formatVariant, methodVariant, parseVariant } from '../../eval/variants';

const parameters: EvalParameters = {
  systemPrompt: 'You are a helpful assistant.', maxTokens: 16, alpha: 2, lambda: 2, eta: 10, iterations: 60, ratio: 2,
  beams: 16, lengthPenalty: 1,
};

function record(index: number, preference: string | null, variant: string, response: string,
  extra: Partial<ResponseRecord> = {}): ResponseRecord {
  const method = variant.startsWith('amulet') ? 'amulet' : variant as ResponseRecord['method'];
  return {
    key: `set#${index}|${preference ?? '-'}|${variant}`, questionSet: 'set', questionIndex: index, question: `Q${index}?`,
    preference, preferenceText: preference && `Your answer should be ${preference} as much as possible.`, method,
    variant, parameters, response, tokens: response.split(' ').length, finishReason: 'stop',
    timing: { totalMs: 10, promptMs: 1, tokensPerSecond: method === 'amulet' ? 50 : 100 },
    proxies: measureAll(response), ...extra,
  };
}

const concise: EvalPreference = { name: 'concise', text: 'Your answer should be concise as much as possible.', set: 'paper' };

let folder: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'amulet-eval-'));
});
afterEach(() => rmSync(folder, { recursive: true, force: true }));

/**
 * A fake judge model: it gives the shorter response's letter `confidence` of
 * the verdict mass and the other the rest, plus `bias` toward " A"; the
 * prompt it reads is the harness's own.
 */
function fakeScorer(confidence: number, bias = 0, calls: string[] = []): VerdictScorer {
  return async (prompt, prefix, choices) => {
    calls.push(prefix);
    expect(choices).toEqual(VERDICT_CHOICES);
    const a = /\[Response A\]\n([^]*?)\n\[End of response A\]/.exec(prompt)![1]!;
    const b = /\[Response B\]\n([^]*?)\n\[End of response B\]/.exec(prompt)![1]!;
    const pA = Math.min(0.99, (a.length <= b.length ? confidence : 1 - confidence) * 0.9 + bias);
    return [Math.log(pA), Math.log(0.9 - pA + 0.001)];
  };
}

describe('the judge read from probabilities', () => {
  it('combines the orders by the candidate\'s averaged share', () => {
    // Candidate favoured in both orders: share (0.8 + 0.8) / 2 = 0.8, |0.8 - 0.2| > 0.2: a confident win.
    expect(combineOrders({ a: 0.8, b: 0.2 }, { a: 0.2, b: 0.8 })).toMatchObject(
      { candidateShare: 0.8, outcome: 'win', confident: true, agreed: true, verdictMass: 1 });
    expect(combineOrders({ a: 0.1, b: 0.9 }, { a: 0.9, b: 0.1 })).toMatchObject({ outcome: 'loss', agreed: true });
    // Pure position bias: A both times, whoever is shown there: share 0.5, a tie, orders disagree.
    expect(combineOrders({ a: 0.9, b: 0.1 }, { a: 0.9, b: 0.1 })).toMatchObject(
      { candidateShare: 0.5, outcome: 'tie', confident: false, agreed: false });
    // Shares 0.7 and 0.45: mean 0.575, |2 * 0.575 - 1| = 0.15 <= 0.2: a tie; the orders disagree.
    const close = combineOrders({ a: 0.7, b: 0.3 }, { a: 0.55, b: 0.45 });
    expect(close.candidateShare).toBeCloseTo(0.575);
    expect(close).toMatchObject({ outcome: 'tie', confident: false, agreed: false });
    // Only the shares count, not how much mass the verdict tokens got.
    expect(combineOrders({ a: 0.08, b: 0.02 }, { a: 0.02, b: 0.08 })).toMatchObject(
      { outcome: 'win', confident: true });
    expect(combineOrders({ a: 0, b: 0 }, { a: 0, b: 0 })).toMatchObject({ candidateShare: 0.5, outcome: 'tie' });
  });

  it('asks in both orders after the verdict prefix, and cancels a position bias', async () => {
    const calls: string[] = [];
    const judged = await judgePair(fakeScorer(0.9, 0, calls), 'Q?', 'Be concise.', 'short', 'a much longer answer');
    expect(calls).toEqual([VERDICT_PREFIX, VERDICT_PREFIX]);
    expect(judged).toMatchObject({ outcome: 'win', agreed: true, confident: true });
    // A judge that leans to A: still a win, with the share pulled toward 0.5.
    const leaning = await judgePair(fakeScorer(0.7, 0.2), 'Q?', 'Be concise.', 'short', 'a much longer answer');
    expect(leaning.candidateShare).toBeLessThan(judged.candidateShare);
    // A judge that cannot tell: a tie.
    expect(await judgePair(fakeScorer(0.5), 'Q?', 'Be concise.', 'short', 'a much longer answer'))
      .toMatchObject({ outcome: 'tie', confident: false });
    expect(judgePrompt('Q?', 'Be concise.', 'x', 'y')).toContain('[Response B]\ny\n[End of response B]');
  });

  it('judges several candidates against one reference, reference-first prompts together', async () => {
    const prompts: string[] = [];
    const scorer: VerdictScorer = async (prompt, prefix, choices) => {
      prompts.push(prompt);
      return fakeScorer(0.9)(prompt, prefix, choices);
    };
    const judged = await judgeAgainst(scorer, 'Q?', 'Be concise.', 'a reference of middling length', ['short', 'a very long candidate answer indeed']);
    expect(judged.map((judgement) => judgement.outcome)).toEqual(['win', 'loss']);
    expect(prompts.map((prompt) => prompt.indexOf('[Response A]\na reference') >= 0)).toEqual([true, true, false, false]);
  });
});

describe('variants', () => {
  it('parses name=method:option=value and prints it back', () => {
    const variant = parseVariant('amulet-s1.5=amulet:alpha=1.3:iterations=30');
    expect(variant).toEqual({ name: 'amulet-s1.5', method: 'amulet', options: { alpha: 1.3, iterations: 30 } });
    expect(formatVariant(variant)).toBe('amulet-s1.5=amulet:alpha=1.3:iterations=30');
    expect(methodVariant('pref')).toEqual({ name: 'pref', method: 'pref', options: {} });
  });

  it('reads echoPrompt as the weight of the words-only preference, whose text keeps only content words', () => {
    const variant = parseVariant('amulet-echo=amulet:echoPrompt=0.5:alpha=2');
    expect(variant.options).toEqual({ echoPrompt: 0.5, alpha: 2 });
    expect(formatVariant(variant)).toBe('amulet-echo=amulet:echoPrompt=0.5:alpha=2');
    expect(echoPromptText('Respond in a formal tone, as a pirate would.')).toBe('respond formal tone pirate');
    expect(echoPromptText('Use the the of and')).toBe('use');
    expect(echoPromptText('and the of')).toBe('');
  });

  it.each([
    ['amulet', /written name=method/], ['x=nope', /method must be one of/], ['x=amulet:alpha=0', /alpha must be a number > 0/],
    ['x=amulet:beta=1', /options are/], ['pref=amulet', /a method's own name/], ['x y=amulet', /written name=method/],
    ['x=pref:echoPrompt=1', /echoPrompt needs method amulet or la/], ['x=amulet:echoPrompt=0', /positive weight/],
    ['x=amulet:echoPrompt=-1', /positive weight/],
  ])('refuses %j', (spec, message) => {
    expect(() => parseVariant(spec)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_OPTION', message: expect.stringMatching(message) }));
  });
});

describe('bootstrap intervals', () => {
  it('brackets the mean of group means and a ratio, deterministically', () => {
    const interval = meanOfGroupMeans([[1, 0, 1, 1, 0.5, 1], [0, 0.5, 1, 1]]);
    expect(interval!.value).toBeCloseTo((4.5 / 6 + 2.5 / 4) / 2);
    expect(interval!.low).toBeLessThan(interval!.value);
    expect(interval!.high).toBeGreaterThan(interval!.value);
    expect(meanOfGroupMeans([[1, 0, 1, 1, 0.5, 1], [0, 0.5, 1, 1]])).toEqual(interval);
    expect(meanOfGroupMeans([[1, 1, 1]])).toEqual({ value: 1, low: 1, high: 1 });
    expect(meanOfGroupMeans([])).toBeNull();
    expect(meanOfGroupMeans([[1], []])).toBeNull();
    const ratioOfSums = (pairs: readonly (readonly [number, number])[]): number =>
      pairs.reduce((sum, [x]) => sum + x, 0) / pairs.reduce((sum, [, y]) => sum + y, 0);
    const ratio = bootstrap([[2, 1], [4, 2], [3, 1]] as const, ratioOfSums);
    expect(ratio!.value).toBeCloseTo(9 / 4);
    expect(ratio!.low).toBeLessThanOrEqual(ratio!.value);
    expect(ratio!.high).toBeGreaterThanOrEqual(ratio!.value);
    expect(bootstrap([], ratioOfSums)).toBeNull();
  });
});

describe('win rates', () => {
  it('counts a win as 1 and a tie as a half', () => {
    expect(winRate([])).toBeNull();
    expect(winRate(['win', 'tie', 'loss', 'win'])).toMatchObject({ value: 2.5 / 4, pairs: 4 });
    expect(compareByProxy(3, 5, 'lower')).toBe('win');
    expect(compareByProxy(3, 5, 'higher')).toBe('loss');
    expect(compareByProxy(4, 4, 'higher')).toBe('tie');
  });

  it('aggregates per preference against base and pref, by set, with fluency', () => {
    const records = [
      record(0, null, 'base', 'one two three four', { fluency: { tokens: 4, plainNll: 1, preferenceNll: null } }),
      record(1, null, 'base', 'one two three', { fluency: { tokens: 3, plainNll: 1, preferenceNll: null } }),
      record(0, 'concise', 'pref', 'one two three four five', { fluency: { tokens: 5, plainNll: 2, preferenceNll: 1 } }),
      record(1, 'concise', 'pref', 'one two', { fluency: { tokens: 2, plainNll: 2, preferenceNll: 1 } }),
      record(0, 'concise', 'amulet', 'one', { fluency: { tokens: 1, plainNll: 5, preferenceNll: 2 }, meanGuidanceScale: 4 }),
      record(1, 'concise', 'amulet', 'one two three',
        { fluency: { tokens: 3, plainNll: 1, preferenceNll: 1 }, meanGuidanceScale: 2 }),
    ];
    const judgement = (index: number, outcome: JudgementRecord['outcome'], agreed: boolean): JudgementRecord => ({
      key: `k${index}`, questionSet: 'set', questionIndex: index, preference: 'concise', variant: 'amulet', reference: 'pref',
      outcome, candidateShare: outcome === 'win' ? 0.9 : 0.5, confident: outcome !== 'tie', agreed, verdictMass: 0.9,
      orders: [{ a: 0.9, b: 0.1 }, { a: 0.1, b: 0.9 }],
    });
    const scores = computeScores(records, [judgement(0, 'win', true), judgement(1, 'tie', false)], [concise],
      ['base', 'pref', 'amulet']);
    const amulet = scores.preferences[0]!.variants.amulet!;
    // Against base: 1 < 4 words (win), 3 = 3 (tie). Against pref: 1 < 5 (win), 3 > 2 (loss).
    expect(amulet.proxyWinRate.base).toMatchObject({ value: 0.75, pairs: 2 });
    expect(amulet.proxyWinRate.pref).toMatchObject({ value: 0.5, pairs: 2 });
    expect(amulet.meanProxy).toBe(2);
    expect(amulet.judgeWinRate.pref).toMatchObject({ value: 0.75, pairs: 2 });
    expect(amulet.judgeWinRate.base).toBeNull();
    expect(amulet.judgeAgreement).toBe(0.5);
    expect(amulet.judgeConfident).toBe(0.5);
    // Token-weighted: (5 * 1 + 1 * 3) / 4 = 2 against pref's 2 under the plain prompt; (2 + 3) / 4 against 1.
    expect(amulet.fluency.plainNll).toBe(2);
    expect(amulet.fluency.preferenceNll).toBe(1.25);
    expect(amulet.fluency.plainNllRatioToPref!.value).toBeCloseTo(1);
    expect(amulet.fluency.preferenceNllRatioToPref!.value).toBeCloseTo(1.25);
    expect(scores.preferences[0]!.variants.base!.fluency.preferenceNll).toBeNull();
    expect(amulet.tokensPerSecond).toBe(50);
    // Token-weighted as well: (4 * 1 + 2 * 3) / 4; no pref answer records a scale.
    expect(amulet.meanGuidanceScale).toBe(2.5);
    const pref = scores.preferences[0]!.variants.pref!;
    expect(pref.proxyWinRate.pref).toBeNull();  // never compared with itself
    expect(pref.proxyWinRate.base).toMatchObject({ value: 0.5, pairs: 2 });
    expect(pref.meanGuidanceScale).toBeNull();
    expect(scores.preferences[0]!.variants.base!.answers).toBe(2);
    expect(scores.sets).toEqual(['paper']);
    expect(scores.overall.paper!.amulet).toMatchObject({
      proxyWinRate: { base: { value: 0.75 }, pref: { value: 0.5 } }, preferencesAheadOfPref: { proxy: 0, judge: 1 },
      answers: 2, fluency: { plainNll: 2 }, meanGuidanceScale: 2.5,
    });
  });
});

describe('preference sets', () => {
  it('has the paper\'s eight and a dozen more, every name unique and with a proxy', () => {
    expect(paperPreferences).toHaveLength(8);
    expect(extendedPreferences.length).toBeGreaterThanOrEqual(12);
    const all = [...paperPreferences, ...extendedPreferences];
    expect(new Set(all.map((preference) => preference.name)).size).toBe(all.length);
    for (const preference of all) expect(preferenceProxies[preference.name]).toBeDefined();
    expect(extendedPreferences.every((preference) => preference.set === 'extended' &&
      preference.text.startsWith('Your answer should be '))).toBe(true);
  });
});

describe('JsonlStore', () => {
  it('resumes: keeps whole lines, drops an interrupted one, never writes a key twice', () => {
    const path = join(folder, 'responses.jsonl');
    const first = new JsonlStore<{ key: string; value: number }>(path);
    first.append({ key: 'a', value: 1 });
    first.append({ key: 'b', value: 2 });
    first.append({ key: 'a', value: 3 });  // ignored: already stored
    appendFileSync(path, '{"key":"c","val');  // a write cut off by an interruption
    const reopened = new JsonlStore<{ key: string; value: number }>(path);
    expect(reopened.all()).toEqual([{ key: 'a', value: 1 }, { key: 'b', value: 2 }]);
    reopened.append({ key: 'c', value: 4 });
    expect(readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { key: string }).map(
      (entry) => entry.key)).toEqual(['a', 'b', 'c']);
  });

  it('updates records in place through a rename', () => {
    const path = join(folder, 'responses.jsonl');
    const store = new JsonlStore<{ key: string; value: number }>(path);
    store.append({ key: 'a', value: 1 });
    store.append({ key: 'b', value: 2 });
    store.update([{ key: 'b', value: 5 }, { key: 'z', value: 9 }]);
    expect(new JsonlStore<{ key: string; value: number }>(path).all()).toEqual([{ key: 'a', value: 1 }, { key: 'b', value: 5 }]);
  });

  it('plans base once per question and every other variant per preference', () => {
    const questions = [{ set: 's', index: 0, question: 'Q0' }, { set: 's', index: 1, question: 'Q1' }];
    const preferences = [{ name: 'concise', text: 'Be concise.', set: 'paper' }, { name: 'formal', text: 'Be formal.', set: 'paper' }];
    const jobs = planJobs(questions, preferences, [methodVariant('base'), methodVariant('pref'), parseVariant('a2=amulet:alpha=1')]);
    expect(jobs.map((job) => job.key)).toEqual([
      's#0|-|base', 's#0|concise|pref', 's#0|concise|a2', 's#0|formal|pref', 's#0|formal|a2',
      's#1|-|base', 's#1|concise|pref', 's#1|concise|a2', 's#1|formal|pref', 's#1|formal|a2',
    ]);
  });
});

describe('report', () => {
  it('renders a grouped bar chart as valid-looking SVG with escaped labels', () => {
    const svg = renderBarChart({ title: 'Win <rate>', yLabel: 'rate', categories: ['concise', 'a&b'],
      series: [{ name: 'amulet', values: [0.75, null] }, { name: 'la', values: [0.25, 1] }] });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('Win &lt;rate&gt;');
    expect(svg).toContain('a&amp;b');
    expect(svg.match(/<rect [^>]*fill="#/g)).toHaveLength(3 + 2);  // 3 bars (one null) + 2 legend swatches
  });

  it('writes scores.json, report.md and the charts, with highlighted example tokens', () => {
    const records = [
      record(0, null, 'base', 'The answer is long and plain.'),
      record(0, 'concise', 'pref', 'The answer is plain.'),
      record(0, 'concise', 'amulet', 'Short <answer>.',
        { segments: [{ text: 'Short', differs: true }, { text: ' <answer>.', differs: false }] }),
    ];
    const scores = computeScores(records, [], [concise], ['base', 'pref', 'amulet']);
    // Degeneration from the text (these records do not store it): "answer" is 1 of the 2 words of the amulet
    // answer and 1 of 4 of pref's; base's 1 of 6 is read against the same preference.
    expect(scores.preferences[0]!.variants.amulet!.degeneration).toEqual({ inventedWords: 0, echo: 0.5, repetition: 0 });
    expect(scores.preferences[0]!.variants.pref!.degeneration.echo).toBeCloseTo(1 / 4, 12);
    expect(scores.preferences[0]!.variants.base!.degeneration.echo).toBeCloseTo(1 / 6, 12);
    const written = writeReport(folder, scores, records, {
      model: 'model.gguf', judgeModel: undefined, questionSets: ['set'], questionCount: 1,
      variantSpecs: { amulet: 'amulet=amulet' }, command: 'npx amulet eval ...',
    });
    expect(written.files).toEqual(expect.arrayContaining(['scores.json', 'report.md',
      join('charts', 'paper-proxy-win-vs-pref.svg')]));
    expect(readdirSync(join(folder, 'charts')).some((file) => file.endsWith('.svg'))).toBe(true);
    const report = readFileSync(join(folder, 'report.md'), 'utf8');
    expect(report).toContain('| amulet | 1.00 [1.00, 1.00] | 1.00 [1.00, 1.00] | 1/1 |');
    expect(report).toContain('| invented words | echo | repetition |');
    expect(report).toContain('<mark>Short</mark> &lt;answer&gt;.');
    expect(report).toContain('## What the proxies can and cannot show');
    expect(report).toContain('![Proxy win rate against pref (paper)](charts/paper-proxy-win-vs-pref.svg)');
    expect(JSON.parse(readFileSync(join(folder, 'scores.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(scores)));
  });
});
