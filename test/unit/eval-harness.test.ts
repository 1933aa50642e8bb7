/**
 * The evaluation harness without a model: the judge's verdict parser and
 * order-swap combination (with a fake judge), win-rate aggregation, the
 * resumable JSONL store, and the report and SVG writer.
 */
import { appendFileSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { combineOrders, judgePair, judgePrompt, parseVerdict, type JudgeFunction } from '../../eval/judge';
import { planJobs } from '../../eval/plan';
import { measureAll } from '../../eval/proxies/index';
import { writeReport } from '../../eval/report';
import type { EvalParameters, ResponseRecord } from '../../eval/runner';
import { compareByProxy, computeScores, winRate, type JudgementRecord } from '../../eval/scores';
import { JsonlStore } from '../../eval/store';
import { renderBarChart } from '../../eval/svg-chart';

const parameters: EvalParameters = {
  systemPrompt: 'You are a helpful assistant.', maxTokens: 16, alpha: 2, lambda: 2, eta: 10, iterations: 60, ratio: 2,
  beams: 16, lengthPenalty: 1,
};

function record(index: number, preference: string | null, method: ResponseRecord['method'], response: string,
  segments?: ResponseRecord['segments']): ResponseRecord {
  return {
    key: `set#${index}|${preference ?? '-'}|${method}`, questionSet: 'set', questionIndex: index, question: `Q${index}?`,
    preference, preferenceText: preference && `Your answer should be ${preference} as much as possible.`, method,
    parameters, response, tokens: response.split(' ').length, finishReason: 'stop',
    timing: { totalMs: 10, promptMs: 1, tokensPerSecond: method === 'amulet' ? 50 : 100 },
    proxies: measureAll(response), ...(segments && { segments }),
  };
}

let folder: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'amulet-eval-'));
});
afterEach(() => rmSync(folder, { recursive: true, force: true }));

describe('parseVerdict', () => {
  it.each([
    ['[[A]]', 'A'], ['[[B]]', 'B'], ['[[TIE]]', 'tie'], ['[[ c ]]', 'tie'], ['The better one is [[B]].', 'B'],
    ['A', 'A'], ['(B)', 'B'], ['"A."', 'A'], ['**B**', 'B'],
    ['Answer B follows the preference better.', 'B'], ['Response A is more concise.', 'A'], ['assistant (B)', 'B'],
    ['A: it is shorter', 'A'], ['B) the second', 'B'],
    ['They are equally concise.', 'tie'], ['Both are fine.', 'tie'], ['It is a tie.', 'tie'],
    ['A good answer should be short.', 'unparsed'], ['', 'unparsed'], ['I cannot decide.', 'unparsed'],
  ])('reads %j as %s', (reply, verdict) => {
    expect(parseVerdict(reply)).toBe(verdict);
  });
});

describe('combineOrders', () => {
  it('needs both orders to agree for a clean win or loss', () => {
    expect(combineOrders('A', 'B')).toMatchObject({ outcome: 'win', agreed: true });
    expect(combineOrders('B', 'A')).toMatchObject({ outcome: 'loss', agreed: true });
    expect(combineOrders('tie', 'tie')).toMatchObject({ outcome: 'tie', agreed: true });
  });

  it('cancels position bias: the same position twice is a tie', () => {
    expect(combineOrders('A', 'A')).toMatchObject({ outcome: 'tie', agreed: false });
    expect(combineOrders('B', 'B')).toMatchObject({ outcome: 'tie', agreed: false });
  });

  it('lets a tie in one order leave the other order\'s verdict, and counts unparsed as no vote', () => {
    expect(combineOrders('A', 'tie')).toMatchObject({ outcome: 'win', agreed: false });
    expect(combineOrders('tie', 'A')).toMatchObject({ outcome: 'loss', agreed: false });
    expect(combineOrders('unparsed', 'B')).toMatchObject({ outcome: 'win', agreed: false });
    expect(combineOrders('unparsed', 'unparsed')).toMatchObject({ outcome: 'tie', agreed: false });
  });

  it('asks a judge in both orders', async () => {
    const seen: string[] = [];
    // A fake judge that always prefers the shorter answer, wherever it is shown.
    const judge: JudgeFunction = async (_question, _preference, a, b) => {
      seen.push(`${a}|${b}`);
      return a.length <= b.length ? '[[A]]' : 'Answer B';
    };
    const judged = await judgePair(judge, 'Q?', 'Be concise.', 'short', 'a much longer answer');
    expect(seen).toEqual(['short|a much longer answer', 'a much longer answer|short']);
    expect(judged).toMatchObject({ outcome: 'win', agreed: true, candidateFirst: 'A', candidateSecond: 'B' });
    // A judge that always says A: pure position bias, a tie.
    const biased = await judgePair(async () => 'A', 'Q?', 'Be concise.', 'short', 'long answer');
    expect(biased).toMatchObject({ outcome: 'tie', agreed: false });
    expect(judgePrompt('Q?', 'Be concise.', 'x', 'y')).toContain('[Answer B]\ny\n[End of answer B]');
  });
});

describe('win rates', () => {
  it('counts a win as 1 and a tie as a half', () => {
    expect(winRate([])).toBeNull();
    expect(winRate(['win', 'tie', 'loss', 'win'])).toEqual({ rate: 2.5 / 4, pairs: 4 });
    expect(compareByProxy(3, 5, 'lower')).toBe('win');
    expect(compareByProxy(3, 5, 'higher')).toBe('loss');
    expect(compareByProxy(4, 4, 'higher')).toBe('tie');
  });

  it('aggregates per preference against base and pref, and overall', () => {
    const records = [
      record(0, null, 'base', 'one two three four'),
      record(1, null, 'base', 'one two three'),
      record(0, 'concise', 'pref', 'one two three four five'),
      record(1, 'concise', 'pref', 'one two'),
      record(0, 'concise', 'amulet', 'one'),
      record(1, 'concise', 'amulet', 'one two three'),
    ];
    const judgements: JudgementRecord[] = [
      { key: 'k1', questionSet: 'set', questionIndex: 0, preference: 'concise', method: 'amulet', reference: 'base',
        outcome: 'win', agreed: true, verdicts: ['A', 'B'], replies: ['[[A]]', '[[B]]'] },
      { key: 'k2', questionSet: 'set', questionIndex: 1, preference: 'concise', method: 'amulet', reference: 'base',
        outcome: 'tie', agreed: false, verdicts: ['A', 'A'], replies: ['[[A]]', '[[A]]'] },
    ];
    const scores = computeScores(records, judgements, ['concise'], ['base', 'pref', 'amulet']);
    const amulet = scores.preferences[0]!.methods.amulet!;
    // Against base: 1 < 4 words (win), 3 = 3 (tie). Against pref: 1 < 5 (win), 3 > 2 (loss).
    expect(amulet.proxyWinRate.base).toEqual({ rate: 0.75, pairs: 2 });
    expect(amulet.proxyWinRate.pref).toEqual({ rate: 0.5, pairs: 2 });
    expect(amulet.meanProxy).toBe(2);
    expect(amulet.judgeWinRate.base).toEqual({ rate: 0.75, pairs: 2 });
    expect(amulet.judgeAgreement).toBe(0.5);
    expect(amulet.tokensPerSecond).toBe(50);
    const pref = scores.preferences[0]!.methods.pref!;
    expect(pref.proxyWinRate.pref).toBeNull();  // never compared with itself
    expect(pref.proxyWinRate.base).toEqual({ rate: 0.5, pairs: 2 });
    expect(scores.preferences[0]!.methods.base!.answers).toBe(2);
    expect(scores.overall.amulet).toMatchObject({ proxyWinRate: { base: 0.75, pref: 0.5 }, answers: 2 });
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

  it('plans base once per question and every other method per preference', () => {
    const questions = [{ set: 's', index: 0, question: 'Q0' }, { set: 's', index: 1, question: 'Q1' }];
    const preferences = [{ name: 'concise', text: 'Be concise.' }, { name: 'formal', text: 'Be formal.' }];
    const jobs = planJobs(questions, preferences, ['base', 'pref', 'amulet']);
    expect(jobs.map((job) => job.key)).toEqual([
      's#0|-|base', 's#0|concise|pref', 's#0|concise|amulet', 's#0|formal|pref', 's#0|formal|amulet',
      's#1|-|base', 's#1|concise|pref', 's#1|concise|amulet', 's#1|formal|pref', 's#1|formal|amulet',
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
      record(0, 'concise', 'amulet', 'Short <answer>.', [{ text: 'Short', differs: true }, { text: ' <answer>.', differs: false }]),
    ];
    const scores = computeScores(records, [], ['concise'], ['base', 'pref', 'amulet']);
    const written = writeReport(folder, scores, records, {
      model: 'model.gguf', judgeModel: undefined, questionSets: ['set'], questionCount: 1, command: 'npx amulet eval ...',
    });
    expect(written.files).toEqual(expect.arrayContaining(['scores.json', 'report.md',
      join('charts', 'proxy-win-vs-base.svg'), join('charts', 'proxy-win-vs-pref.svg')]));
    expect(readdirSync(join(folder, 'charts')).some((file) => file.endsWith('.svg'))).toBe(true);
    const report = readFileSync(join(folder, 'report.md'), 'utf8');
    expect(report).toContain('| amulet | 1.00 | 1.00 |');
    expect(report).toContain('<mark>Short</mark> &lt;answer&gt;.');
    expect(report).toContain('## What the proxies can and cannot show');
    expect(report).toContain('![Proxy win rate against base](charts/proxy-win-vs-base.svg)');
    expect(JSON.parse(readFileSync(join(folder, 'scores.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(scores)));
  });
});
