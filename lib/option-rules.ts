/**
 * The rules table: every option of the library in one place, with its kind,
 * bounds, default, command-line flag and description. The library's
 * validation, both command-line parsers and the help texts read it, so a
 * bound is stated once.
 *
 * @packageDocumentation
 */

/** What every rule has. */
interface RuleBase {
  /** The name in the library's options (camelCase). */
  readonly name: string;
  /** The command-line flag without its dashes; absent when the option has none. */
  readonly flag?: string;
  /** The value's placeholder in the help (`--alpha <x>`). */
  readonly placeholder?: string;
  /** One sentence for the help and the docs, without the bounds or the default. */
  readonly description: string;
  /** The default as the help states it, where that is not the value itself. */
  readonly defaultText?: string;
}

/** A finite number, optionally an integer, within bounds. */
export interface NumberRule extends RuleBase {
  readonly kind: 'number';
  readonly integer: boolean;
  readonly min?: number;
  /** `min` itself is refused. */
  readonly minExclusive?: boolean;
  readonly max?: number;
  /** `max` itself is refused. */
  readonly maxExclusive?: boolean;
  readonly default: number;
  /** Words accepted besides numbers (`gpuLayers: 'max'`). */
  readonly words?: readonly string[];
}

/** One of a fixed list of strings. */
export interface ChoiceRule<T extends string = string> extends RuleBase {
  readonly kind: 'choice';
  readonly values: readonly T[];
  readonly default: T;
}

/** A boolean. */
export interface BooleanRule extends RuleBase {
  readonly kind: 'boolean';
  readonly default: boolean;
}

/** A string, possibly empty. */
export interface TextRule extends RuleBase {
  readonly kind: 'text';
  readonly default: string;
}

/** Any rule of the table. */
export type OptionRule = NumberRule | ChoiceRule | BooleanRule | TextRule;

type NumberBounds = Omit<NumberRule, 'kind' | 'name' | 'integer'>;

function integer(name: string, bounds: NumberBounds): NumberRule {
  return Object.freeze({ kind: 'number', name, integer: true, ...bounds });
}

function real(name: string, bounds: NumberBounds): NumberRule {
  return Object.freeze({ kind: 'number', name, integer: false, ...bounds });
}

function choice<const T extends string>(name: string, rule: Omit<ChoiceRule<T>, 'kind' | 'name'>): ChoiceRule<T> {
  return Object.freeze({ kind: 'choice', name, ...rule });
}

/** llama.cpp's "pick a random seed" value: the default, never a user's. */
export const RANDOM_SEED = 0xffff_ffff;

/** More layers than any model has: llama.cpp offloads all of them, and the output layer. */
export const MAX_GPU_LAYERS = 100_000;

/** Every option, by its library name. */
export const rules = Object.freeze({
  // Realignment.
  method: choice('method', {
    flag: 'method', placeholder: 'name',
    values: ['amulet', 'amulet-iterative', 'la', 'pref', 'base'] as const,
    default: 'amulet',
    description: 'How the next-token distribution is formed',
  }),
  alpha: real('alpha', {
    flag: 'alpha', placeholder: 'x', min: 0, minExclusive: true, default: 2,
    description: "Amulet's reward scale α",
  }),
  lambda: real('lambda', {
    flag: 'lambda', placeholder: 'x', min: 0, minExclusive: true, default: 2,
    description: "Amulet's pull λ toward the preference policy",
  }),
  eta: real('eta', {
    flag: 'eta', placeholder: 'x', min: 0, minExclusive: true, default: 10,
    description: "Amulet's learning rate η",
  }),
  iterations: integer('iterations', {
    flag: 'iterations', placeholder: 'k', min: 1, max: 10_000, default: 60,
    description: "Amulet's online-learning steps K",
  }),
  ratio: real('ratio', {
    flag: 'ratio', placeholder: 'r', min: 0, default: 2,
    description: 'Ratio r of the la method',
  }),
  plausibility: real('plausibility', {
    flag: 'plausibility', placeholder: 'τ', min: 0, max: 1, default: 0,
    description: 'Keep only tokens the preference prompt gives at least τ times its top probability; 0 is off ' +
      "(the paper's behaviour)",
  }),
  weight: real('weight', {
    flag: 'weight', placeholder: 'n', default: 1,
    description: 'How strongly to follow a preference; negative steers away from it',
  }),
  realignOn: choice('realignOn', {
    flag: 'realign-on', placeholder: 'where', values: ['auto', 'cpu', 'backend'] as const, default: 'auto',
    description: 'Where the realignment runs: in the compute graph when the logits are on a GPU (auto), on the ' +
      'host (cpu), or in the graph on any device (backend)',
  }),

  // Sampling after the realignment.
  temperature: real('temperature', {
    flag: 'temperature', placeholder: 't', min: 0, default: 0,
    description: '0 decodes greedily, as the paper does; above 0 samples at this temperature',
  }),
  topK: integer('topK', {
    flag: 'top-k', placeholder: 'k', min: 0, max: 1_000_000, default: 0,
    description: 'Keep the k most likely tokens; 0 keeps all',
  }),
  topP: real('topP', {
    flag: 'top-p', placeholder: 'p', min: 0, minExclusive: true, max: 1, default: 1,
    description: 'Nucleus sampling threshold; 1 is off',
  }),
  minP: real('minP', {
    flag: 'min-p', placeholder: 'p', min: 0, max: 1, maxExclusive: true, default: 0,
    description: 'Least probability relative to the top token; 0 is off',
  }),
  repeatPenalty: real('repeatPenalty', {
    flag: 'repeat-penalty', placeholder: 'x', min: 0, minExclusive: true, default: 1,
    description: 'Penalty on recently used tokens; 1 is off',
  }),
  repeatLastN: integer('repeatLastN', {
    flag: 'repeat-last-n', placeholder: 'n', min: 0, max: 1_000_000, default: 64,
    description: 'How many recent tokens the penalties look at',
  }),
  frequencyPenalty: real('frequencyPenalty', {
    flag: 'frequency-penalty', placeholder: 'x', default: 0,
    description: 'Penalty proportional to how often a token appeared',
  }),
  presencePenalty: real('presencePenalty', {
    flag: 'presence-penalty', placeholder: 'x', default: 0,
    description: 'Penalty on any token that appeared',
  }),
  seed: integer('seed', {
    flag: 'seed', placeholder: 'n', min: 0, max: RANDOM_SEED - 1, default: RANDOM_SEED, defaultText: 'random',
    description: 'Seed of the random sampler',
  }),

  // A prompt.
  maxTokens: integer('maxTokens', {
    flag: 'max-tokens', placeholder: 'n', min: 1, max: 1 << 24, default: 256,
    description: 'Most tokens to generate',
  }),
  trace: { kind: 'boolean', name: 'trace', default: false, description: 'Record a trace per token' } as BooleanRule,
  captureLogits: {
    kind: 'boolean', name: 'captureLogits', default: false,
    description: 'Copy the raw rows and the realigned log-probabilities of every token (diagnostics)',
  } as BooleanRule,

  // A session.
  systemPrompt: {
    kind: 'text', name: 'systemPrompt', flag: 'system', placeholder: 'prompt', default: 'You are a helpful assistant.',
    description: 'System prompt of every sequence; each preference is appended to it',
  } as TextRule,
  contextSize: integer('contextSize', {
    flag: 'context-size', placeholder: 'n', min: 64, max: 1 << 20, default: 4096,
    description: 'Context size in tokens, per sequence',
  }),
  contextOverflow: choice('contextOverflow', {
    values: ['error', 'dropOldestTurns'] as const, default: 'error',
    description: 'What a prompt does when the conversation outgrows the context',
  }),
  threads: integer('threads', {
    flag: 'threads', placeholder: 'n', min: 0, max: 1024, default: 0, defaultText: 'one per hardware thread',
    description: 'CPU threads; 0 uses one per hardware thread',
  }),
  batchSize: integer('batchSize', {
    flag: 'batch-size', placeholder: 'n', min: 8, max: 1 << 16, default: 512,
    description: 'Tokens per prompt-evaluation batch',
  }),

  // Loading a model.
  gpuLayers: integer('gpuLayers', {
    flag: 'gpu-layers', placeholder: 'n|max', min: 0, max: MAX_GPU_LAYERS, default: 0, words: ['max'],
    description: 'Layers to offload to the GPU, max for all and the output layer; needs a GPU build',
  }),
  useMmap: {
    kind: 'boolean', name: 'useMmap', default: true, description: 'Memory-map the model file instead of reading it',
  } as BooleanRule,
  chatTemplate: {
    kind: 'text', name: 'chatTemplate', flag: 'chat-template', placeholder: 'name', default: '',
    defaultText: "the GGUF's own",
    description: 'A llama.cpp template name (chatml, gemma, llama3, ...) or template text',
  } as TextRule,

  // Fetching a model by reference (hf:..., https://...).
  cacheDir: {
    kind: 'text', name: 'cacheDir', default: '', defaultText: '$AMULET_MODELS_DIR, else ~/.cache/amulet-llm/models',
    description: 'Folder where downloaded models are kept',
  } as TextRule,
  token: {
    kind: 'text', name: 'token', default: '', defaultText: '$HF_TOKEN',
    description: 'Hugging Face access token, sent to the hub only',
  } as TextRule,
  endpoint: {
    kind: 'text', name: 'endpoint', default: '', defaultText: '$HF_ENDPOINT, else https://huggingface.co',
    description: 'Hugging Face endpoint or mirror',
  } as TextRule,
  sha256: {
    kind: 'text', name: 'sha256', default: '', description: 'The sha256 a downloaded file must have',
  } as TextRule,
  offline: {
    kind: 'boolean', name: 'offline', default: false, defaultText: '$HF_HUB_OFFLINE',
    description: 'Use only models already in the cache',
  } as BooleanRule,

  // Beam search.
  beams: integer('beams', {
    flag: 'beams', placeholder: 'n', min: 1, max: 128, default: 16,
    description: 'Beams of the beam search; one beam is greedy decoding',
  }),
  lengthPenalty: real('lengthPenalty', {
    flag: 'length-penalty', placeholder: 'x', min: 0, default: 1,
    description: 'Beam hypotheses are ranked by summed log-probability / length^x; 0 ranks by the raw sum',
  }),
});

/** The library name of a rule in the table. */
export type RuleName = keyof typeof rules;

/** What a value must be, in words: "an integer from 1 to 10000", "a number > 0", "one of a, b". */
export function requirement(rule: OptionRule): string {
  switch (rule.kind) {
    case 'boolean': return 'a boolean';
    case 'text': return 'a string';
    case 'choice': return `one of ${rule.values.join(', ')}`;
    case 'number': {
      const words = rule.words ? `, or ${rule.words.join(' or ')}` : '';
      return `${numberRequirement(rule)}${words}`;
    }
  }
}

function numberRequirement(rule: NumberRule): string {
  const { min, max, minExclusive, maxExclusive } = rule;
  if (rule.integer && min !== undefined && max !== undefined) return `an integer from ${min} to ${max}`;
  if (rule.integer && min !== undefined) return `an integer >= ${min}`;
  if (rule.integer) return 'an integer';
  if (min !== undefined && max !== undefined) {
    return `a number in ${minExclusive ? '(' : '['}${min}, ${max}${maxExclusive ? ')' : ']'}`;
  }
  if (min !== undefined) return `a number ${minExclusive ? '>' : '>='} ${min}`;
  if (max !== undefined) return `a number ${maxExclusive ? '<' : '<='} ${max}`;
  return 'a finite number';
}

/** The bounds as the help shows them beside a description: "1 to 10000", "> 0", "in (0, 1]". */
export function boundsText(rule: NumberRule): string | undefined {
  const { min, max, minExclusive, maxExclusive } = rule;
  if (rule.integer && min !== undefined && max !== undefined) return `${min} to ${max}`;
  if (min !== undefined && max !== undefined) {
    return `in ${minExclusive ? '(' : '['}${min}, ${max}${maxExclusive ? ')' : ']'}`;
  }
  if (min !== undefined) return `${minExclusive ? '>' : '>='} ${min}`;
  return undefined;
}

/** Whether a number satisfies a number rule. */
export function withinRule(rule: NumberRule, value: number): boolean {
  if (!Number.isFinite(value) || (rule.integer && !Number.isSafeInteger(value))) return false;
  if (rule.min !== undefined && (rule.minExclusive ? value <= rule.min : value < rule.min)) return false;
  if (rule.max !== undefined && (rule.maxExclusive ? value >= rule.max : value > rule.max)) return false;
  return true;
}

/** Whether a value (of any type) satisfies a rule. */
export function satisfies(rule: OptionRule, value: unknown): boolean {
  switch (rule.kind) {
    case 'boolean': return typeof value === 'boolean';
    case 'text': return typeof value === 'string';
    case 'choice': return typeof value === 'string' && rule.values.includes(value);
    case 'number':
      return (typeof value === 'number' && withinRule(rule, value)) ||
        (typeof value === 'string' && (rule.words?.includes(value) ?? false));
  }
}

const DECIMAL_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const DECIMAL_INTEGER = /^[+-]?\d+$/;

/**
 * Reads a command-line value for a number rule: a decimal number (an integer
 * for integer rules) or one of its words. Returns undefined when the text
 * does not satisfy the rule.
 */
export function parseNumberText(rule: NumberRule, text: string): number | string | undefined {
  const trimmed = text.trim();
  if (rule.words?.includes(trimmed)) return trimmed;
  if (!(rule.integer ? DECIMAL_INTEGER : DECIMAL_NUMBER).test(trimmed)) return undefined;
  const value = Number(trimmed);
  return withinRule(rule, value) ? value : undefined;
}

/** A value as an error message quotes it. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  return typeof value;
}

/** The help's line for a rule: its description, bounds and default. */
export function helpDescription(rule: OptionRule): string {
  const bounds = rule.kind === 'number' ? boundsText(rule) : undefined;
  const shown = rule.defaultText ?? (rule.kind === 'text' ? JSON.stringify(rule.default) : String(rule.default));
  return `${rule.description} (${bounds ? `${bounds}; ` : ''}default ${shown}).`;
}
