/**
 * Command-line flags read off the library's rules table (lib/option-rules.ts):
 * one place states each option's bounds, and every command parses its flags'
 * text and writes their help from there.
 *
 * @packageDocumentation
 */
import {
  parseNumberText,
  requirement,
  rules,
  satisfies,
  type BooleanRule,
  type ChoiceRule,
  type ListRule,
  type NumberRule,
  type OptionRule,
  type RuleName,
  type TextListRule,
  type TextRule,
  type TokenBiasRule,
} from '../lib/option-rules';
import { wrapText } from './text-wrap';

/** A mistake on the command line; the CLI prints its message and exits with code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Quotes a value for an error message, shortening long ones. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
}

/** A `node:util` parseArgs option that takes a value. */
export interface ValueFlag {
  type: 'string';
  short?: string;
  multiple?: boolean;
}

/** The parseArgs options of the table's rules named, by flag; a list's flag is given once per entry. */
export function ruleFlags(names: readonly RuleName[]): Record<string, ValueFlag> {
  return Object.fromEntries(names.map((name) => {
    const rule: OptionRule = rules[name];
    const repeated = rule.kind === 'textList' || rule.kind === 'tokenBias';
    return [flagOf(rule), repeated ? { type: 'string', multiple: true } : { type: 'string' }];
  }));
}

function flagOf(rule: OptionRule): string {
  if (rule.flag === undefined) throw new Error(`option ${rule.name} has no command-line flag`);
  return rule.flag;
}

const DECIMAL_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Reads a command-line `<token>=<bias>` entry of a token-bias rule: a token
 * id (a decimal integer) and a decimal number or `-inf`, within the rule.
 * Returns undefined when the text is not one.
 */
function parseTokenBiasText(rule: TokenBiasRule, text: string): [token: number, bias: number] | undefined {
  const match = /^\s*(\d+)\s*=\s*(.+?)\s*$/.exec(text);
  if (!match) return undefined;
  const biasText = match[2]!;
  const bias = /^-inf(?:inity)?$/i.test(biasText) ? -Infinity : DECIMAL_NUMBER.test(biasText) ? Number(biasText) : NaN;
  return satisfies(rule, { [match[1]!]: bias }) ? [Number(match[1]), bias] : undefined;
}

/**
 * Reads a command-line value for a list rule: comma-separated items, each an
 * endpoint or a decimal number. Returns undefined when the list does not
 * satisfy the rule.
 */
function parseListText<T extends string | number>(rule: ListRule<T>, text: string): T[] | undefined {
  const items = text.split(',').map((item) => item.trim());
  const { item } = rule;
  const values: unknown[] = item === 'endpoint' ? items : items.map((entry) => parseNumberText(item, entry));
  return satisfies(rule, values) ? values as T[] : undefined;
}

/**
 * Reads a flag's value by its rule, or undefined when it was not given.
 *
 * @throws UsageError: "--<flag> must be <requirement> (got "<text>")".
 */
export function flagValue<W extends string>(rule: NumberRule<W>, text: string | undefined): number | W | undefined;
export function flagValue<T extends string>(rule: ChoiceRule<T>, text: string | undefined): T | undefined;
export function flagValue(rule: TextRule, text: string | undefined): string | undefined;
export function flagValue<T extends string | number>(rule: ListRule<T>, text: string | undefined): T[] | undefined;
export function flagValue(rule: BooleanRule, text: string | undefined): boolean | undefined;
export function flagValue(rule: NumberRule | ChoiceRule | TextRule | ListRule | BooleanRule, text: string | undefined):
  number | string | boolean | (string | number)[] | undefined {
  if (text === undefined) return undefined;
  const value = rule.kind === 'text' ? text
    : rule.kind === 'choice' ? rule.values.find((entry) => entry === text)
      : rule.kind === 'number' ? parseNumberText(rule, text)
        : rule.kind === 'boolean' ? (text === 'true' ? true : text === 'false' ? false : undefined)
          : parseListText(rule, text);
  if (value === undefined) throw new UsageError(`--${flagOf(rule)} must be ${requirement(rule)} (got ${quote(text)})`);
  return value;
}

/**
 * Reads the entries of a repeated flag by its list rule: the texts (at most
 * the rule's count, none empty), or the `<token>=<bias>` pairs as an object;
 * undefined when the flag was not given.
 *
 * @throws UsageError naming the flag and the entry.
 */
export function flagValues(rule: TextListRule, texts: readonly string[] | undefined): string[] | undefined;
export function flagValues(rule: TokenBiasRule, texts: readonly string[] | undefined): Record<number, number> | undefined;
export function flagValues(rule: TextListRule | TokenBiasRule, texts: readonly string[] | undefined):
  string[] | Record<number, number> | undefined {
  if (texts === undefined) return undefined;
  const flag = `--${flagOf(rule)}`;
  if (rule.kind === 'textList') {
    const empty = texts.find((text) => text === '');
    if (empty !== undefined) throw new UsageError(`${flag} needs some text (got "")`);
    if (texts.length > rule.maxCount) throw new UsageError(`${flag} may be given at most ${rule.maxCount} times`);
    return [...texts];
  }
  const biases: Record<number, number> = {};
  for (const text of texts) {
    const entry = parseTokenBiasText(rule, text);
    if (!entry) {
      throw new UsageError(`${flag} must be <token id>=<number or -inf> (got ${quote(text)}); the number is from ` +
        `-${rule.maxBias} to ${rule.maxBias}`);
    }
    biases[entry[0]] = entry[1];
  }
  return biases;
}

/**
 * parseArgs refuses `--weight -1` as ambiguous (the value looks like a flag).
 * A negative number right after a flag that takes a value is always that
 * flag's value, so it is glued on (`--weight=-1`, `-w-1`) before parsing.
 */
export function attachNegativeValues(args: readonly string[], options: Record<string, { type: string; short?: string }>): string[] {
  const valueFlags = new Set<string>();
  for (const [name, option] of Object.entries(options)) {
    if (option.type !== 'string') continue;
    valueFlags.add(`--${name}`);
    if (option.short !== undefined) valueFlags.add(`-${option.short}`);
  }
  const attached: string[] = [];
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index]!;
    if (arg === '--') {
      attached.push(...args.slice(index));
      break;
    }
    const next = args[index + 1];
    if (valueFlags.has(arg) && next !== undefined && /^-(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/.test(next)) {
      attached.push(arg.startsWith('--') ? `${arg}=${next}` : `${arg}${next}`);
      index += 1;
    } else {
      attached.push(arg);
    }
  }
  return attached;
}

/** Restates parseArgs' errors on one line, without its advice about positionals that start with "-". */
export function parseErrorMessage(error: Error): string {
  const unknownOption = /^Unknown option '([^']*)'/.exec(error.message);
  if (unknownOption) return `unknown option ${unknownOption[1]}`;
  return error.message.replace(/\s*\n\s*/g, ' ').trim();
}

/** The help fits a classic 80-column terminal. */
const HELP_WIDTH = 80;
/** Where option descriptions start. */
const DESCRIPTION_COLUMN = 30;

/** One option of a help text: its flags, then its description wrapped in a column beside them. */
export function helpOption(flags: string, description: string): string {
  const lines = wrapText(description, HELP_WIDTH - DESCRIPTION_COLUMN);
  const indent = ' '.repeat(DESCRIPTION_COLUMN);
  // The space after the flags keeps them apart from the description even if they fill the column.
  const first = `  ${flags} `.padEnd(DESCRIPTION_COLUMN);
  return lines.map((line, index) => (index === 0 ? first : indent) + line).join('\n');
}

/** The bounds as the help shows them beside a description: "1 to 10000", "> 0", "in (0, 1]". */
function boundsText(rule: NumberRule): string | undefined {
  const { min, max, minExclusive, maxExclusive } = rule;
  if (rule.integer && min !== undefined && max !== undefined) return `${min} to ${max}`;
  if (min !== undefined && max !== undefined) {
    return `in ${minExclusive ? '(' : '['}${min}, ${max}${maxExclusive ? ')' : ']'}`;
  }
  if (min !== undefined) return `${minExclusive ? '>' : '>='} ${min}`;
  return undefined;
}

/** The help's line for a rule: its description, bounds and default. */
export function helpDescription(rule: OptionRule): string {
  const bounds = rule.kind === 'number' ? boundsText(rule) : undefined;
  const shown = rule.defaultText ?? (typeof rule.default === 'string' ? JSON.stringify(rule.default) : String(rule.default));
  return `${rule.description} (${bounds ? `${bounds}; ` : ''}default ${shown}).`;
}

/** The help lines of the table's rules named: flag, placeholder, description, bounds and default. */
export function ruleHelp(names: readonly RuleName[]): string[] {
  return names.map((name) => {
    const rule: OptionRule = rules[name];
    return helpOption(`    --${flagOf(rule)} <${rule.placeholder ?? 'value'}>`, helpDescription(rule));
  });
}

/** A titled list of help lines. */
export function helpSection(title: string, lines: readonly string[]): string {
  return `${title}:\n${lines.join('\n')}`;
}
