/**
 * The per-token report `amulet --trace` prints on stderr after an answer.
 *
 * @packageDocumentation
 */
import type { TextChunk, TokenTrace } from '../lib/index';

/** One generated token's trace, with its text when the chunk it came in holds that token alone. */
export interface TracedToken {
  trace: TokenTrace;
  /** Undefined when the token shares its chunk (a character spread over several tokens). */
  text: string | undefined;
}

/** The traced tokens of one streamed chunk. */
export function tracedTokensOf(chunk: TextChunk): TracedToken[] {
  const traces = chunk.traces ?? [];
  return traces.map((trace) => ({ trace, text: traces.length === 1 ? chunk.text : undefined }));
}

/** Column widths: index, emitted token id, its text, then top token id and probability per distribution, and KL. */
const INDEX_WIDTH = 4;
const TOKEN_WIDTH = 8;
const TEXT_WIDTH = 14;
const TOP_TOKEN_WIDTH = 11;
const PROBABILITY_WIDTH = 7;
const KL_WIDTH = 9;

function topChoice(token: number, probability: number): string {
  return `${String(token).padStart(TOP_TOKEN_WIDTH)}${probability.toFixed(3).padStart(PROBABILITY_WIDTH)}`;
}

/**
 * One line per token: the emitted token (id and text), the top token id and
 * its probability in the base sequence, the first preference sequence and
 * the realigned distribution, and KL(realigned ‖ base) in nats. A `*` marks
 * the tokens where realignment changed the base sequence's top choice.
 */
export function traceReport(method: string, tokens: readonly TracedToken[]): string {
  const title = `trace of ${method} (* = realignment changed the base sequence's top token):`;
  const header = [
    '#'.padStart(INDEX_WIDTH),
    'emitted'.padStart(TOKEN_WIDTH),
    '  ',
    'text'.padEnd(TEXT_WIDTH),
    'base top'.padStart(TOP_TOKEN_WIDTH),
    'p'.padStart(PROBABILITY_WIDTH),
    'pref top'.padStart(TOP_TOKEN_WIDTH),
    'p'.padStart(PROBABILITY_WIDTH),
    'realigned'.padStart(TOP_TOKEN_WIDTH),
    'p'.padStart(PROBABILITY_WIDTH),
    'KL'.padStart(KL_WIDTH),
  ].join('');
  const lines = tokens.map(({ trace, text }, index) => {
    const shown = text === undefined ? '' : JSON.stringify(text);
    const changed = trace.realignedToken !== trace.baseToken ? ' *' : '';
    return [
      String(index + 1).padStart(INDEX_WIDTH),
      String(trace.token).padStart(TOKEN_WIDTH),
      '  ',
      Array.from(shown).slice(0, TEXT_WIDTH - 1).join('').padEnd(TEXT_WIDTH),
      topChoice(trace.baseToken, trace.baseProbability),
      topChoice(trace.preferenceToken, trace.preferenceProbability),
      topChoice(trace.realignedToken, trace.realignedProbability),
      trace.klDivergence.toFixed(4).padStart(KL_WIDTH),
      changed,
    ].join('');
  });
  return [title, header, ...lines].join('\n') + '\n';
}
