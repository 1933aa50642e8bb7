/**
 * The engine's StopMatcher (native/engine/stop_matcher.cpp) on its own, through
 * the test build's `runStopMatcher`: no model. Whatever the cut into pieces,
 * what it lets out is the text before the first stop string, never a part of
 * a stop string, and never text it takes back.
 */
import fc from 'fast-check';
import { nativeBinding } from '../../lib/addon';
import { useTestAddon } from '../support/test-addon';

useTestAddon();

interface StopRun {
  chunks: string[];
  tail: string;
  stopString: string;
}

function run(stops: readonly string[], pieces: readonly string[]): StopRun {
  const binding = nativeBinding() as unknown as { runStopMatcher(stops: readonly string[], pieces: readonly string[]): StopRun };
  return binding.runStopMatcher(stops, pieces);
}

/** Where a one-character-at-a-time reader first sees a stop string: the earliest end, then the longest. */
function expectedStop(text: string, stops: readonly string[]): { before: string; stop: string } | undefined {
  let best: { start: number; end: number; stop: string } | undefined;
  for (const stop of stops) {
    const start = text.indexOf(stop);
    if (start < 0) continue;
    const end = start + stop.length;
    if (!best || end < best.end || (end === best.end && start < best.start)) best = { start, end, stop };
  }
  return best && { before: text.slice(0, best.start), stop: best.stop };
}

it('passes text through when there is no stop string', () => {
  expect(run([], ['Hello', ', ', 'world'])).toEqual({ chunks: ['Hello', ', ', 'world'], tail: '', stopString: '' });
});

it('holds back what could begin a stop string, and lets it out once it cannot', () => {
  expect(run(['\nUser:'], ['Hi', '\n', 'Us', 'ual'])).toEqual({ chunks: ['Hi', '', '', '\nUsual'], tail: '', stopString: '' });
});

it('ends at a stop string split across pieces, emitting nothing of it or after it', () => {
  expect(run(['\nUser:'], ['Fine.', '\nUs', 'er: more', 'and more'])).toEqual({
    chunks: ['Fine.', '', '', ''], tail: '', stopString: '\nUser:',
  });
});

it('lets out a held tail at the end of the stream', () => {
  expect(run(['STOP'], ['one ST'])).toEqual({ chunks: ['one '], tail: 'ST', stopString: '' });
});

it('picks the stop string that ends first, then the longest', () => {
  expect(run(['abcd', 'bc'], ['abcd'])).toMatchObject({ chunks: ['a'], stopString: 'bc' });
  expect(run(['bc', 'abc'], ['xabc'])).toMatchObject({ chunks: ['x'], stopString: 'abc' });
});

it('keeps whole UTF-8 characters', () => {
  expect(run(['ü!'], ['grün', 'ü', '!'])).toEqual({ chunks: ['grün', '', ''], tail: '', stopString: 'ü!' });
  expect(run(['ü!'], ['grün', 'ü', '?'])).toEqual({ chunks: ['grün', '', 'ü?'], tail: '', stopString: '' });
});

it('gives the same text for every cut of the same stream, and never a part of a stop string', () => {
  const alphabet = fc.constantFrom('a', 'b', 'c', ' ', 'é');
  const word = fc.array(alphabet, { minLength: 1, maxLength: 4 }).map((chars) => chars.join(''));
  fc.assert(fc.property(
    fc.array(alphabet, { maxLength: 40 }).map((chars) => chars.join('')),
    fc.array(word, { minLength: 1, maxLength: 3 }),
    fc.array(fc.nat(40), { maxLength: 8 }),
    (text, stops, cuts) => {
      const points = [...new Set(cuts.filter((cut) => cut < text.length))].sort((a, b) => a - b);
      const pieces = [0, ...points].map((start, index) => text.slice(start, [...points, text.length][index]));
      const result = run(stops, pieces);
      const emitted = result.chunks.join('') + result.tail;
      const expected = expectedStop(text, stops);
      expect(emitted).toBe(expected ? expected.before : text);
      expect(result.stopString).toBe(expected ? expected.stop : '');
      // What was let out before the end is final: no chunk ends inside a stop string.
      let shown = '';
      for (const chunk of result.chunks) {
        shown += chunk;
        expect(emitted.startsWith(shown)).toBe(true);
      }
    },
  ), { numRuns: 500 });
});
