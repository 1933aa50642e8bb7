/**
 * The rules table: every option of the library in one place, with its kind,
 * bounds, default, command-line flag and description, and the checks that
 * read it. The library's validation, the server's request parser, and the
 * command lines' parsers and helps (cli/flags.ts) all read it, so a bound is
 * stated once.
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

/** A finite number, optionally an integer, within bounds; `W` are the words it takes besides. */
export interface NumberRule<W extends string = string> extends RuleBase {
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
  readonly words?: readonly W[];
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

/** A list of non-empty strings (a flag given once per entry). */
export interface TextListRule extends RuleBase {
  readonly kind: 'textList';
  /** Most entries. */
  readonly maxCount: number;
  readonly default: readonly string[];
}

/**
 * Token ids mapped to a bias added to their logit: within ±`maxBias`, or
 * `-Infinity` to ban the token (a flag given once per entry, `<token>=<bias>`).
 */
export interface TokenBiasRule extends RuleBase {
  readonly kind: 'tokenBias';
  /** Largest |bias| besides `-Infinity`. */
  readonly maxBias: number;
  readonly default: Readonly<Record<number, number>>;
}

/** A JSON Schema (a plain object), or `true` for any JSON object. */
export interface JsonSchemaRule extends RuleBase {
  readonly kind: 'jsonSchema';
  readonly default: JsonSchema | undefined;
}

/** A JSON Schema, as the `jsonSchema` output control takes it (an object), or `true` for any JSON object. */
export type JsonSchema = Readonly<Record<string, unknown>> | true;


/**
 * A list of items of one kind, given on the command line as a comma-separated
 * list: `host:port` network endpoints, or numbers within the bounds of a
 * number rule.
 */
export interface ListRule<T extends string | number = string | number> extends RuleBase {
  readonly kind: 'list';
  /** `'endpoint'` for `host:port` items (a host name or IPv4 address, a port from 1 to 65535), else each number's rule. */
  readonly item: 'endpoint' | NumberRule;
  readonly maxItems: number;
  /** A non-empty list of numbers must not be all zeros (shares of a whole). */
  readonly someNonZero?: boolean;
  readonly default: readonly T[];
}

/** Any rule of the table. */
export type OptionRule =
  | NumberRule
  | ChoiceRule
  | BooleanRule
  | TextRule
  | ListRule
  | TextListRule
  | TokenBiasRule
  | JsonSchemaRule;

/** What a builder takes: the rule without its kind and name. */
type Fields<R extends OptionRule> = Omit<R, 'kind' | 'name'>;

function rule<R extends OptionRule>(kind: R['kind'], name: string, fields: Omit<R, 'kind' | 'name'>): R {
  return Object.freeze({ kind, name, ...fields }) as R;
}

function integer<const W extends string = never>(name: string, fields: Omit<Fields<NumberRule<W>>, 'integer'>):
  NumberRule<W> {
  return rule<NumberRule<W>>('number', name, { integer: true, ...fields });
}

function real(name: string, fields: Omit<Fields<NumberRule<never>>, 'integer'>): NumberRule<never> {
  return rule<NumberRule<never>>('number', name, { integer: false, ...fields });
}

function choice<const T extends string>(name: string, fields: Fields<ChoiceRule<T>>): ChoiceRule<T> {
  return rule<ChoiceRule<T>>('choice', name, fields);
}

function boolean(name: string, fields: Fields<BooleanRule>): BooleanRule {
  return rule<BooleanRule>('boolean', name, fields);
}

function text(name: string, fields: Fields<TextRule>): TextRule {
  return rule<TextRule>('text', name, fields);
}

function textList(name: string, fields: Fields<TextListRule>): TextListRule {
  return rule<TextListRule>('textList', name, fields);
}

function tokenBias(name: string, fields: Fields<TokenBiasRule>): TokenBiasRule {
  return rule<TokenBiasRule>('tokenBias', name, fields);
}

function jsonSchema(name: string, fields: Fields<JsonSchemaRule>): JsonSchemaRule {
  return rule<JsonSchemaRule>('jsonSchema', name, fields);
}

function list<T extends string | number>(name: string, fields: Fields<ListRule<T>>): ListRule<T> {
  return rule<ListRule<T>>('list', name, fields);
}

/** llama.cpp's "pick a random seed" value: the default, never a user's. */
export const RANDOM_SEED = 0xffff_ffff;

/** More layers than any model has: llama.cpp offloads all of them, and the output layer. */
export const MAX_GPU_LAYERS = 100_000;

/** The most devices llama.cpp offloads one model to (its llama_max_devices()), and so the most RPC servers. */
export const MAX_DEVICES = 16;

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
    flag: 'alpha', placeholder: 'x', min: 0, minExclusive: true, default: 1.3,
    description: "Amulet's reward scale α (the paper's is 2)",
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
  klBudget: real('klBudget', {
    flag: 'kl-budget', placeholder: 'nats', min: 0, default: 0,
    description: 'Cap each token\'s guidance scale so that the realigned distribution stays within this KL ' +
      '(nats) of the preference prompt\'s; 0 is off (the paper\'s behaviour)',
  }),
  echoGuard: boolean('echoGuard', {
    flag: 'echo-guard', placeholder: 'true|false', default: false,
    description: "Give the tokens of a preference's own words no push from the realignment, only the preference " +
      "prompt's own probability or less; false is off (the paper's update)",
  }),
  weight: real('weight', {
    flag: 'weight', placeholder: 'n', default: 1,
    description: 'How strongly to follow a preference; negative steers away from it',
  }),
  realignOn: choice('realignOn', {
    flag: 'realign-on', placeholder: 'where', values: ['auto', 'cpu', 'backend'] as const, default: 'auto',
    description: 'Where the realignment runs: in the compute graph when the logits are on a GPU or an RPC server ' +
      '(auto), on the host (cpu), or in the graph on any device (backend)',
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
  trace: boolean('trace', { default: false, description: 'Record a trace per token' }),
  captureLogits: boolean('captureLogits', {
    default: false,
    description: 'Copy the raw rows and the realigned log-probabilities of every token (diagnostics)',
  }),

  // What a prompt's answer may be (applied after the realignment).
  stop: textList('stop', {
    flag: 'stop', placeholder: 'text', maxCount: 16, default: [], defaultText: 'none',
    description: 'End the answer where it first contains this text, which is not part of the answer; repeat it for ' +
      'several',
  }),
  logitBias: tokenBias('logitBias', {
    flag: 'logit-bias', placeholder: 'token>=<bias', maxBias: 100, default: {},
    defaultText: 'none',
    description: 'Add a bias to a token id\'s logit after the realignment; -inf bans the token; repeat it for several',
  }),
  grammar: text('grammar', {
    flag: 'grammar-file', placeholder: 'gbnf', default: '', defaultText: 'none',
    description: 'A GBNF grammar (llama.cpp\'s format, rule root) the answer must follow',
  }),
  jsonSchema: jsonSchema('jsonSchema', {
    flag: 'json-schema-file', placeholder: 'json', default: undefined,
    defaultText: 'none',
    description: 'A JSON Schema the answer must follow, as JSON',
  }),

  // A session.
  systemPrompt: text('systemPrompt', {
    flag: 'system', placeholder: 'prompt', default: 'You are a helpful assistant.',
    description: 'System prompt of every sequence; each preference is appended to it',
  }),
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

  // A context that many sessions share.
  sequences: integer('sequences', {
    flag: 'sequences', placeholder: 'n', min: 1, max: 256, default: 8,
    defaultText: "8; the server's: parallel × (1 + its preferences, at least 1)",
    description: 'KV sequences the sessions of a shared context decode together; a realigned conversation takes ' +
      'one plus one per preference, a plain one one',
  }),
  cacheSize: integer('cacheSize', {
    flag: 'cache-size', placeholder: 'n', min: 0, max: 1 << 24, default: 0, defaultText: 'context size × sequences',
    description: 'KV cells all the sequences of a shared context share; 0 gives each sequence its context size',
  }),

  // Loading a model.
  gpuLayers: integer('gpuLayers', {
    flag: 'gpu-layers', placeholder: 'n|max', min: 0, max: MAX_GPU_LAYERS, default: 0, words: ['max'],
    defaultText: '0, or max with --rpc',
    description: 'Layers to offload to the GPU or the RPC servers, max for all and the output layer; needs a GPU ' +
      'build or --rpc',
  }),
  rpcServers: list<string>('rpcServers', {
    flag: 'rpc', placeholder: 'host:port,...', item: 'endpoint',
    maxItems: MAX_DEVICES, default: [], defaultText: 'none',
    description: "llama.cpp RPC servers (amulet rpc-server) whose devices take the offloaded layers, in order, " +
      'before any local GPU',
  }),
  tensorSplit: list<number>('tensorSplit', {
    flag: 'tensor-split', placeholder: 'x,...',
    item: real('share', { min: 0, default: 0, description: 'A share of the offloaded layers' }),
    maxItems: MAX_DEVICES, someNonZero: true, default: [], defaultText: 'by free memory',
    description: 'Each offload device\'s share of the offloaded layers: the RPC servers\' devices, then the local GPUs',
  }),
  useMmap: boolean('useMmap', {
    default: true, description: 'Memory-map the model file instead of reading it',
  }),
  chatTemplate: text('chatTemplate', {
    flag: 'chat-template', placeholder: 'name', default: '',
    defaultText: "the GGUF's own",
    description: 'A template name llama.cpp has built in (chatml, gemma, llama3, ...) or Jinja template text',
  }),

  // Fetching a model by reference (hf:..., https://...).
  cacheDir: text('cacheDir', {
    default: '', defaultText: '$AMULET_MODELS_DIR, else ~/.cache/amulet-llm/models',
    description: 'Folder where downloaded models are kept',
  }),
  token: text('token', {
    default: '', defaultText: '$HF_TOKEN',
    description: 'Hugging Face access token, sent to the hub only',
  }),
  endpoint: text('endpoint', {
    default: '', defaultText: '$HF_ENDPOINT, else https://huggingface.co',
    description: 'Hugging Face endpoint or mirror',
  }),
  sha256: text('sha256', {
    default: '', description: 'The sha256 a downloaded file must have',
  }),
  offline: boolean('offline', {
    default: false, defaultText: '$HF_HUB_OFFLINE',
    description: 'Use only models already in the cache',
  }),

  // Serving (createServer, amulet serve).
  host: text('host', {
    flag: 'host', placeholder: 'address', default: '127.0.0.1',
    description: 'Address the server listens on; 127.0.0.1 serves this machine only, 0.0.0.0 every network',
  }),
  port: integer('port', {
    flag: 'port', placeholder: 'n', min: 0, max: 65_535, default: 8080,
    description: 'TCP port the server listens on; 0 picks a free one',
  }),
  parallel: integer('parallel', {
    flag: 'parallel', placeholder: 'n', min: 1, max: 64, default: 1,
    description: 'Conversations decoded together, each on its own session (slot) of one shared context',
  }),
  queueSize: integer('queueSize', {
    flag: 'queue', placeholder: 'n', min: 0, max: 100_000, default: 16,
    description: 'Requests that wait for a free slot; the server answers 503 to those beyond',
  }),
  apiKey: text('apiKey', {
    flag: 'api-key', placeholder: 'key', default: '', defaultText: '$AMULET_API_KEY, else none',
    description: 'Key every /v1 request must send as "Authorization: Bearer <key>"',
  }),
  modelName: text('modelName', {
    flag: 'model-name', placeholder: 'id', default: '', defaultText: "the GGUF's file name",
    description: 'Model id the server lists at /v1/models and names in its answers',
  }),
  maxBodyBytes: integer('maxBodyBytes', {
    min: 1024, max: 1 << 30, default: 1 << 20,
    description: 'Largest request body the server reads, in bytes; a larger one gets 413',
  }),

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
    case 'textList': return `an array of at most ${rule.maxCount} non-empty strings`;
    case 'tokenBias': return `an object mapping token ids to numbers from -${rule.maxBias} to ${rule.maxBias}, or -Infinity`;
    case 'jsonSchema': return 'a JSON Schema (an object), or true for any JSON object';
    case 'choice': return `one of ${rule.values.join(', ')}`;
    case 'number': {
      const words = rule.words ? `, or ${rule.words.join(' or ')}` : '';
      return `${numberRequirement(rule)}${words}`;
    }
    case 'list': {
      const items = rule.item === 'endpoint' ? 'host:port addresses' : `numbers, each ${numberRequirement(rule.item)}`;
      return `a list of at most ${rule.maxItems} ${items}${rule.someNonZero ? ', not all 0' : ''}`;
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

/** Whether a number satisfies a number rule. */
export function withinRule(rule: NumberRule, value: number): boolean {
  if (!Number.isFinite(value) || (rule.integer && !Number.isSafeInteger(value))) return false;
  if (rule.min !== undefined && (rule.minExclusive ? value <= rule.min : value < rule.min)) return false;
  if (rule.max !== undefined && (rule.maxExclusive ? value >= rule.max : value > rule.max)) return false;
  return true;
}

const ENDPOINT = /^([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?):(\d{1,5})$/;

/** Whether a value is a `host:port` endpoint: a host name or IPv4 address and a port from 1 to 65535. */
export function isEndpoint(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  const match = ENDPOINT.exec(value);
  return match !== null && Number(match[2]) >= 1 && Number(match[2]) <= 65_535;
}

function satisfiesList(rule: ListRule, value: unknown): boolean {
  if (!Array.isArray(value) || value.length > rule.maxItems) return false;
  const { item } = rule;
  if (item === 'endpoint') return value.every(isEndpoint);
  if (!value.every((entry) => typeof entry === 'number' && withinRule(item, entry))) return false;
  return !rule.someNonZero || value.length === 0 || value.some((entry) => entry !== 0);
}

/** Whether a value (of any type) satisfies a rule. */
export function satisfies(rule: OptionRule, value: unknown): boolean {
  switch (rule.kind) {
    case 'list': return satisfiesList(rule, value);
    case 'boolean': return typeof value === 'boolean';
    case 'text': return typeof value === 'string';
    case 'textList':
      return Array.isArray(value) && value.length <= rule.maxCount &&
        value.every((entry) => typeof entry === 'string' && entry !== '');
    case 'tokenBias':
      return isPlainObject(value) && Object.entries(value).every(([token, bias]) =>
        DECIMAL_TOKEN.test(token) && Number.isSafeInteger(Number(token)) && isBias(rule, bias));
    case 'jsonSchema': return value === true || isPlainObject(value);
    case 'choice': return typeof value === 'string' && rule.values.includes(value);
    case 'number':
      return (typeof value === 'number' && withinRule(rule, value)) ||
        (typeof value === 'string' && (rule.words?.includes(value) ?? false));
  }
}

/** An object literal's value: not null, not an array. */
function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A logit bias: within the rule's bound, or -Infinity to ban the token. */
function isBias(rule: TokenBiasRule, value: unknown): value is number {
  return typeof value === 'number' && (Math.abs(value) <= rule.maxBias || value === -Infinity);
}

const DECIMAL_TOKEN = /^\d+$/;
const DECIMAL_NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const DECIMAL_INTEGER = /^[+-]?\d+$/;

/**
 * Reads a number rule's value from text (a command-line flag, a query
 * parameter): a decimal number (an integer for integer rules) or one of its
 * words. Returns undefined when the text does not satisfy the rule.
 */
export function parseNumberText<W extends string>(rule: NumberRule<W>, text: string): number | W | undefined {
  const trimmed = text.trim();
  const word = rule.words?.find((entry) => entry === trimmed);
  if (word !== undefined) return word;
  if (!(rule.integer ? DECIMAL_INTEGER : DECIMAL_NUMBER).test(trimmed)) return undefined;
  const value = Number(trimmed);
  return withinRule(rule, value) ? value : undefined;
}

/** A value as an error message quotes it. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (Array.isArray(value)) {
    const text = JSON.stringify(value);
    return text.length > 40 ? `${text.slice(0, 40)}…` : text;
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null || value === undefined) {
    return String(value);
  }
  return typeof value;
}
