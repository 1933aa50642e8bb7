/**
 * Reading a chat completion body without a model: messages into a system
 * prompt, history and question; OpenAI's fields into the library's options;
 * the fields clients send by habit accepted; every mistake a 400 that names
 * its field.
 */
import { ApiError } from '../../lib/server/api-error';
import { ignoredFields, parseChatRequest } from '../../lib/server/chat-request';

const vocabularySize = 1000;
const user = (content: unknown) => ({ role: 'user', content });

function parse(body: Record<string, unknown>) {
  return parseChatRequest({ messages: [user('Hi')], ...body }, vocabularySize);
}

function refusal(body: unknown): ApiError {
  try {
    parseChatRequest(body, vocabularySize);
  } catch (error) {
    if (error instanceof ApiError) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(body)}`);
}

describe('parseChatRequest', () => {
  it('takes the leading system and developer messages as the system prompt, the rest as history and question', () => {
    const request = parseChatRequest({
      model: 'm',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Use metric units.' }] },
        user('How far is it?'),
        { role: 'assistant', content: 'Far.', refusal: null, tool_calls: [] },
        user([{ type: 'text', text: 'In km?' }, { type: 'text', text: 'Roughly.' }]),
      ],
    }, vocabularySize);
    expect(request).toMatchObject({
      model: 'm',
      systemPrompt: 'Be brief.\n\nUse metric units.',
      history: [{ role: 'user', content: 'How far is it?' }, { role: 'assistant', content: 'Far.' }],
      question: 'In km?\nRoughly.',
      stream: false,
      includeUsage: false,
      preferences: undefined,
      realign: {},
      constraints: {},
    });
    expect(parse({}).systemPrompt).toBeUndefined();
  });

  it("maps OpenAI's and llama-server's sampling fields to the library's options, and the newer max_completion_tokens wins", () => {
    const request = parse({
      temperature: 0.7, top_p: 0.9, seed: 42, frequency_penalty: 0.5, presence_penalty: -0.5, top_k: 40, min_p: 0.05,
      repeat_penalty: 1.1, repeat_last_n: 32, max_tokens: 10, max_completion_tokens: 20,
    });
    expect(request.sampling).toEqual({
      temperature: 0.7, topP: 0.9, seed: 42, frequencyPenalty: 0.5, presencePenalty: -0.5, topK: 40, minP: 0.05,
      repeatPenalty: 1.1, repeatLastN: 32,
    });
    expect(request.maxTokens).toBe(20);
    expect(parse({ max_tokens: 10 }).maxTokens).toBe(10);
  });

  it('reads null as absent, and accepts the standard fields it ignores', () => {
    const nulls = parse({ temperature: null, stop: null, n: null, stream: null, response_format: null, logit_bias: null });
    expect(nulls.sampling).toEqual({});
    expect(nulls.constraints).toEqual({});
    const ignored = Object.fromEntries(ignoredFields.map((field) => [field, 'anything']));
    expect(() => parse({ ...ignored, n: 1, logprobs: false, tools: [], modalities: ['text'] })).not.toThrow();
  });

  it('reads the extension fields preferences and amulet', () => {
    const request = parse({ preferences: ['Be concise.', { text: 'Be kind.', weight: -0.5 }], amulet: { method: 'la', ratio: 0.5 } });
    expect(request.preferences).toEqual([{ text: 'Be concise.', weight: 1 }, { text: 'Be kind.', weight: -0.5 }]);
    expect(request.realign).toEqual({ method: 'la', ratio: 0.5 });
    expect(parse({ preferences: [] }).preferences).toEqual([]);
    expect(parse({ amulet: { plausibility: 0.1, klBudget: 0.5 } }).realign).toEqual({ plausibility: 0.1, klBudget: 0.5 });
    expect(parse({ amulet: { echoGuard: true } }).realign).toEqual({ echoGuard: true });
  });

  it('reads amulet.trace apart from the realignment options', () => {
    const request = parse({ amulet: { method: 'amulet', trace: true } });
    expect(request).toMatchObject({ trace: true, realign: { method: 'amulet' } });
    expect(request.realign).not.toHaveProperty('trace');
    expect(parse({}).trace).toBe(false);
    expect(parse({ amulet: { trace: null } }).trace).toBe(false);
  });

  it('reads stop, logit_bias, grammar and response_format into the constrained-decoding options', () => {
    expect(parse({ stop: 'END' }).constraints).toEqual({ stop: ['END'] });
    expect(parse({ stop: ['a', 'b'] }).constraints).toEqual({ stop: ['a', 'b'] });
    expect(parse({ logit_bias: { 2: -100, 17: 5.5 } }).constraints).toEqual({ logitBias: { 2: -100, 17: 5.5 } });
    expect(parse({ grammar: 'root ::= "yes"' }).constraints).toEqual({ grammar: 'root ::= "yes"' });
    expect(parse({ response_format: { type: 'text' } }).constraints).toEqual({});
    expect(parse({ response_format: { type: 'json_object' } }).constraints).toEqual({ jsonSchema: true });
    const schema = { type: 'object', properties: { a: { type: 'number' } } };
    expect(parse({ response_format: { type: 'json_schema', json_schema: { name: 'x', schema } } }).constraints)
      .toEqual({ jsonSchema: schema });
    expect(parse({ response_format: { type: 'json_schema', json_schema: { name: 'x' } } }).constraints)
      .toEqual({ jsonSchema: true });
  });

  it('streams with usage only when both stream and stream_options.include_usage are set', () => {
    expect(parse({ stream: true, stream_options: { include_usage: true } })).toMatchObject({ stream: true, includeUsage: true });
    expect(parse({ stream: false, stream_options: { include_usage: true } })).toMatchObject({ includeUsage: false });
  });

  it.each([
    ['a body that is not an object', [1, 2], null, /must be a JSON object/],
    ['no messages', { messages: [] }, 'messages', /non-empty array/],
    ['a last message that is not the user\'s', { messages: [user('a'), { role: 'assistant', content: 'b' }] }, 'messages',
      /last message must be a user message/],
    ['a tool message', { messages: [user('a'), { role: 'tool', content: 'x', tool_call_id: '1' }] }, 'messages[1].role',
      /tool messages are not supported/],
    ['an unknown role', { messages: [{ role: 'wizard', content: 'x' }] }, 'messages[0].role', /must be one of system/],
    ['a system message inside the conversation', { messages: [user('a'), { role: 'system', content: 'x' }, user('b')] },
      'messages[1].role', /must come before/],
    ['an image part', { messages: [user([{ type: 'image_url', image_url: { url: 'x' } }])] }, 'messages[0].content[0].type',
      /"image_url" are not supported/],
    ['content of the wrong type', { messages: [user(3)] }, 'messages[0].content', /string or an array of text parts/],
    ['assistant tool calls', { messages: [{ role: 'assistant', content: null, tool_calls: [{ id: '1' }] }, user('a')] },
      'messages[0].tool_calls', /tool calls are not supported/],
    ['an unknown field', { messages: [user('a')], foo: 1 }, 'foo', /foo is not a known field/],
    ['n = 2', { messages: [user('a')], n: 2 }, 'n', /n must be 1/],
    ['a wrong type', { messages: [user('a')], temperature: 'hot' }, 'temperature', /temperature must be a number >= 0 \(got "hot"\)/],
    ['a value out of range', { messages: [user('a')], max_tokens: 0 }, 'max_tokens', /max_tokens must be an integer from 1/],
    ['stream as a string', { messages: [user('a')], stream: 'yes' }, 'stream', /stream must be a boolean/],
    ['logprobs', { messages: [user('a')], logprobs: true }, 'logprobs', /not supported/],
    ['tools', { messages: [user('a')], tools: [{ type: 'function' }] }, 'tools', /tools are not supported/],
    ['an empty stop string', { messages: [user('a')], stop: [''] }, 'stop', /non-empty/],
    ['a logit_bias token beyond the vocabulary', { messages: [user('a')], logit_bias: { 1000: 1 } }, 'logit_bias',
      /not a token id of this model \(0 to 999\)/],
    ['a logit_bias out of range', { messages: [user('a')], logit_bias: { 5: 101 } }, 'logit_bias', /from -100 to 100/],
    ['an unknown response_format', { messages: [user('a')], response_format: { type: 'yaml' } }, 'response_format.type',
      /one of text, json_object, json_schema/],
    ['grammar with a JSON format', { messages: [user('a')], grammar: 'root ::= "a"', response_format: { type: 'json_object' } },
      'grammar', /cannot be combined/],
    ['an unknown amulet field', { messages: [user('a')], amulet: { alpa: 1 } }, 'amulet.alpa', /not a known field/],
    ['an amulet value out of range', { messages: [user('a')], amulet: { alpha: -1 } }, 'amulet.alpha',
      /amulet.alpha must be a number > 0/],
    ['a trace that is no boolean', { messages: [user('a')], amulet: { trace: 'yes' } }, 'amulet.trace',
      /amulet.trace must be a boolean/],
    ['a negative KL budget', { messages: [user('a')], amulet: { klBudget: -1 } }, 'amulet.klBudget',
      /amulet.klBudget must be a number >= 0/],
    ['a blank preference', { messages: [user('a')], preferences: [' '] }, 'preferences', /preferences\[0\].text must be a non-empty/],
  ])('refuses %s with a 400 naming the field', (_, body, param, message) => {
    const error = refusal(body);
    expect(error.status).toBe(400);
    expect(error.param).toBe(param);
    expect(error.message).toMatch(message);
    expect(error.body()).toEqual({ error: { message: error.message, type: 'invalid_request_error', param, code: error.code } });
  });
});
