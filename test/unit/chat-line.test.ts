/**
 * The lines `amulet chat` reads: messages, and the slash commands that change
 * the preferences and the method between turns, each returning new settings
 * (the old ones untouched) or a clear error.
 */
import { effectiveMethod, preferenceListing, readChatLine, type ChatSettings } from '../../cli/chat-line';

const none: ChatSettings = { preferences: [], method: undefined };
const two: ChatSettings = { preferences: [{ text: 'Be concise.', weight: 1 }, { text: 'Be kind.', weight: 1 }], method: undefined };

describe('readChatLine', () => {
  it('reads a message, keeping its text; // sends a message that starts with /', () => {
    expect(readChatLine('  Hello there ', none)).toEqual({ kind: 'message', text: '  Hello there ' });
    expect(readChatLine('//etc/hosts is a file', none)).toEqual({ kind: 'message', text: '/etc/hosts is a file' });
    expect(readChatLine('   ', none)).toEqual({ kind: 'nothing' });
  });

  it('/pref adds, lists and clears preferences', () => {
    const added = readChatLine('/pref Be formal.', two);
    expect(added).toEqual({
      kind: 'settings', note: 'preference 3 added',
      settings: { method: undefined, preferences: [...two.preferences, { text: 'Be formal.', weight: 1 }] },
    });
    expect(two.preferences).toHaveLength(2);
    expect(readChatLine('/pref', two)).toEqual({ kind: 'show', text: '1. [1] Be concise.\n2. [1] Be kind.' });
    expect(readChatLine('/pref clear', two)).toMatchObject({ kind: 'settings', settings: { preferences: [] } });
    expect(preferenceListing(none)).toMatch(/no preferences/);
  });

  it('/weight sets the last preference\'s weight, or the numbered one\'s', () => {
    expect(readChatLine('/weight -1.5', two)).toMatchObject({
      kind: 'settings', settings: { preferences: [{ weight: 1 }, { text: 'Be kind.', weight: -1.5 }] },
    });
    expect(readChatLine('/weight 1 3', two)).toMatchObject({
      kind: 'settings', settings: { preferences: [{ text: 'Be concise.', weight: 3 }, { weight: 1 }] }, note: 'preference 1 now has weight 3',
    });
    expect(readChatLine('/weight 3 1', two)).toEqual({ kind: 'error', message: '/weight: the preference number must be from 1 to 2 (got 3)' });
    expect(readChatLine('/weight heavy', two)).toEqual({ kind: 'error', message: '/weight: the weight must be a finite number (got heavy)' });
    expect(readChatLine('/weight', two)).toEqual({ kind: 'error', message: 'usage: /weight <n> or /weight <i> <n>' });
    expect(readChatLine('/weight 2', none)).toMatchObject({ kind: 'error', message: expect.stringMatching(/no preference/) });
  });

  it('/method shows or sets the method; auto is amulet with preferences and base without', () => {
    expect(effectiveMethod(none)).toBe('base');
    expect(effectiveMethod(two)).toBe('amulet');
    expect(readChatLine('/method', two)).toEqual({ kind: 'show', text: 'method amulet (auto)' });
    expect(readChatLine('/method la', two)).toEqual({ kind: 'settings', settings: { ...two, method: 'la' }, note: 'method la' });
    expect(readChatLine('/method auto', { ...two, method: 'la' })).toMatchObject({ settings: { method: undefined } });
    expect(readChatLine('/method best', two)).toMatchObject({ kind: 'error', message: expect.stringMatching(/^\/method takes one of amulet/) });
  });

  it('/reset, /help, /exit, /quit, and an unknown command', () => {
    expect(readChatLine('/reset', two)).toEqual({ kind: 'reset' });
    expect(readChatLine('/help', two)).toMatchObject({ kind: 'show', text: expect.stringContaining('/pref <text>') });
    expect(readChatLine('/exit', two)).toEqual({ kind: 'exit' });
    expect(readChatLine('/quit', two)).toEqual({ kind: 'exit' });
    expect(readChatLine('/frobnicate now', two)).toEqual({ kind: 'error', message: 'unknown command /frobnicate; /help lists them' });
  });
});
