/**
 * What a line typed into `amulet chat` means: a message to the model, or a
 * slash command that changes the preferences or the method between turns,
 * starts over, or leaves. Reading a line changes nothing itself: it returns
 * the new settings for the loop to adopt.
 *
 * @packageDocumentation
 */
import { parseNumberText, requirement, rules } from '../lib/option-rules';
import type { Preference, RealignMethod } from '../lib/index';

/** What the next turns decode with. */
export interface ChatSettings {
  preferences: Required<Preference>[];
  /** The method chosen with --method or /method; undefined: amulet with preferences, base without. */
  method: RealignMethod | undefined;
}

/** What a line asks for. */
export type ChatLine =
  | { kind: 'message'; text: string }
  | { kind: 'nothing' }
  | { kind: 'exit' }
  | { kind: 'reset' }
  /** Text to show (a listing, the help). */
  | { kind: 'show'; text: string }
  /** New settings from /pref, /weight or /method, with a line that says what changed. */
  | { kind: 'settings'; settings: ChatSettings; note: string }
  | { kind: 'error'; message: string };

/** The help `/help` shows. */
export const chatCommandHelp = `Type a message and press Enter; the answer streams back. Commands:
  /pref                 list the preferences, numbered, with their weights
  /pref <text>          add a preference (weight 1)
  /pref clear           remove every preference
  /weight <n>           set the weight of the last preference (negative steers away)
  /weight <i> <n>       set the weight of preference i
  /method [name]        show or set the method: ${rules.method.values.join(', ')},
                        or auto (amulet with preferences, base without)
  /reset                forget the conversation (preferences and method stay)
  /help                 this help
  /exit                 leave (so do Ctrl-D and, when no answer runs, Ctrl-C)
Ctrl-C stops an answer. A message that starts with / is sent as //message.`;

/** The method a turn decodes with. */
export function effectiveMethod(settings: ChatSettings): RealignMethod {
  return settings.method ?? (settings.preferences.length > 0 ? 'amulet' : 'base');
}

/** The preferences, one a line, numbered from 1. */
export function preferenceListing(settings: ChatSettings): string {
  if (settings.preferences.length === 0) return 'no preferences (add one with /pref <text>)';
  return settings.preferences.map((preference, index) => `${index + 1}. [${preference.weight}] ${preference.text}`).join('\n');
}

function readWeight(text: string): number | undefined {
  const weight = parseNumberText(rules.weight, text);
  return typeof weight === 'number' ? weight : undefined;
}

function prefCommand(argument: string, settings: ChatSettings): ChatLine {
  if (argument === '') return { kind: 'show', text: preferenceListing(settings) };
  if (argument === 'clear') return { kind: 'settings', settings: { ...settings, preferences: [] }, note: 'preferences cleared' };
  const preferences = [...settings.preferences, { text: argument, weight: rules.weight.default }];
  return { kind: 'settings', settings: { ...settings, preferences }, note: `preference ${preferences.length} added` };
}

function weightCommand(argument: string, settings: ChatSettings): ChatLine {
  const words = argument.split(/\s+/).filter((word) => word !== '');
  const count = settings.preferences.length;
  if (count === 0) return { kind: 'error', message: 'there is no preference to weigh; add one with /pref <text>' };
  if (words.length < 1 || words.length > 2) return { kind: 'error', message: 'usage: /weight <n> or /weight <i> <n>' };
  const index = words.length === 2 ? Number(words[0]) - 1 : count - 1;
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    return { kind: 'error', message: `/weight: the preference number must be from 1 to ${count} (got ${words[0]})` };
  }
  const weight = readWeight(words[words.length - 1]!);
  if (weight === undefined) {
    return { kind: 'error', message: `/weight: the weight must be ${requirement(rules.weight)} (got ${words[words.length - 1]})` };
  }
  const preferences = settings.preferences.map((preference, at) => (at === index ? { ...preference, weight } : preference));
  return { kind: 'settings', settings: { ...settings, preferences }, note: `preference ${index + 1} now has weight ${weight}` };
}

function methodCommand(argument: string, settings: ChatSettings): ChatLine {
  if (argument === '') {
    return { kind: 'show', text: `method ${effectiveMethod(settings)}${settings.method === undefined ? ' (auto)' : ''}` };
  }
  if (argument === 'auto') return { kind: 'settings', settings: { ...settings, method: undefined }, note: 'method auto' };
  const method = rules.method.values.find((name) => name === argument);
  if (!method) return { kind: 'error', message: `/method takes one of ${rules.method.values.join(', ')}, auto (got ${argument})` };
  return { kind: 'settings', settings: { ...settings, method }, note: `method ${method}` };
}

/** Reads one line typed at the chat prompt. */
export function readChatLine(line: string, settings: ChatSettings): ChatLine {
  const text = line.trim();
  if (text === '') return { kind: 'nothing' };
  if (text.startsWith('//')) return { kind: 'message', text: text.slice(1) };
  if (!text.startsWith('/')) return { kind: 'message', text: line };
  const [, command = '', argument = ''] = /^\/(\S*)\s*(.*)$/s.exec(text) ?? [];
  switch (command) {
    case 'pref': return prefCommand(argument.trim(), settings);
    case 'weight': return weightCommand(argument, settings);
    case 'method': return methodCommand(argument.trim(), settings);
    case 'reset': return { kind: 'reset' };
    case 'help': return { kind: 'show', text: chatCommandHelp };
    case 'exit':
    case 'quit': return { kind: 'exit' };
    default: return { kind: 'error', message: `unknown command /${command}; /help lists them` };
  }
}
