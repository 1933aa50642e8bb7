/**
 * The model's own chat template, rendered by llama.cpp's Jinja engine: a
 * SmolLM2 GGUF whose `tokenizer.chat_template` is rewritten to a template
 * llama.cpp has no built-in renderer for (and that prints the time) renders
 * exactly as written, generates, and keeps its KV cache across turns; the
 * Qwen fixtures' own templates (ChatML turns with a default system prompt)
 * render through Jinja too; a built-in name uses llama.cpp's renderer; a
 * broken Jinja template falls back, and says so.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AmuletError, loadModel, type ChatMessage, type Model } from '../../lib/index';
import { ensureFixtureModel } from '../support/fixtures';
import { readGgufStrings, writeGgufWithString } from '../support/gguf';
import { paperPreference, testThreads } from '../support/models';

const TEMPLATE_KEY = 'tokenizer.chat_template';

/**
 * Not one of llama.cpp's built-in templates: each turn says whose it is and
 * the conversation opens with the time it is rendered at (to the second).
 */
const CUSTOM_TEMPLATE = [
  "{{- '<|im_start|>system\\nRendered ' + strftime_now('%Y-%m-%d %H:%M:%S') + '<|im_end|>\\n' -}}",
  '{%- for message in messages -%}',
  "{{- '<|im_start|>' + message.role + ' (custom)\\n' + message.content + '<|im_end|>\\n' -}}",
  '{%- endfor -%}',
  "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant (custom)\\n' -}}{%- endif -%}",
].join('\n');

const conversation: ChatMessage[] = [
  { role: 'user', content: 'Hi.' },
  { role: 'assistant', content: 'Hello!' },
  { role: 'user', content: 'Name a colour.' },
];

const CHATML_CONVERSATION = '<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi.<|im_end|>\n' +
  '<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n';

function escaped(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('a GGUF whose chat template llama.cpp has no built-in renderer for', () => {
  let folder: string;
  let path: string;
  let model: Model;

  beforeAll(async () => {
    const smol = await ensureFixtureModel('smollm2-135m-instruct');
    folder = await mkdtemp(join(tmpdir(), 'amulet-chat-template-'));
    path = join(folder, 'smollm2-custom-template.gguf');
    await writeGgufWithString(smol, path, TEMPLATE_KEY, CUSTOM_TEMPLATE);
    model = await loadModel({ path });
  });
  afterAll(async () => {
    await model?.dispose();
    if (folder) await rm(folder, { recursive: true, force: true });
  });

  it('carries the template in its metadata, and loads with it from the file', async () => {
    expect((await readGgufStrings(path)).get(TEMPLATE_KEY)).toBe(CUSTOM_TEMPLATE);
    expect(model.info.chatTemplateSource).toBe('gguf');
    expect(model.info.chatTemplate).toBe(CUSTOM_TEMPLATE);
    expect(model.info.chatTemplateWarning).toBeUndefined();
  });

  it('formatChat renders the conversation as the template says, the assistant turn opened', async () => {
    const rendered = await model.formatChat(conversation, { systemPrompt: 'Be brief.' });
    const expected = '<|im_start|>system\\nRendered \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d<\\|im_end\\|>\\n' + escaped(
      '<|im_start|>system (custom)\nBe brief.<|im_end|>\n<|im_start|>user (custom)\nHi.<|im_end|>\n' +
      '<|im_start|>assistant (custom)\nHello!<|im_end|>\n<|im_start|>user (custom)\nName a colour.<|im_end|>\n' +
      '<|im_start|>assistant (custom)\n');
    expect(rendered).toMatch(new RegExp(`^${escaped('<|im_start|>')}${expected}$`));
    // An empty system prompt leaves the system message out; the default is the session's.
    expect(await model.formatChat(conversation.slice(0, 1), { systemPrompt: '' })).not.toContain('system (custom)');
    expect(await model.formatChat(conversation.slice(0, 1))).toContain('system (custom)\nYou are a helpful assistant.');
  });

  it('formatChat refuses malformed messages at once', () => {
    const system = [{ role: 'system', content: 'x' }] as unknown as ChatMessage[];
    expect(() => model.formatChat(system)).toThrow(AmuletError);
    expect(() => model.formatChat(conversation, { systemPrompt: 3 as unknown as string })).toThrow(/systemPrompt/);
  });

  it('generates with amulet, and a later turn reuses the cache although the rendered time has moved on', async () => {
    const session = model.createSession({
      preferences: [paperPreference('concise')], method: 'amulet', contextSize: 1024, threads: testThreads,
    });
    try {
      const first = await session.prompt('Name a colour.', { maxTokens: 8 });
      expect(first.generatedTokenCount).toBeGreaterThan(0);
      expect(first.text.length).toBeGreaterThan(0);
      // The template prints the time to the second: wait for the clock to pass one.
      await sleep(1100);
      const second = await session.prompt('Why that one?', { maxTokens: 8 });
      // The session renders every turn at its start time, so each sequence
      // finds at least its whole first prompt in the cache.
      expect(second.reusedPromptTokenCount).toBeGreaterThanOrEqual(first.promptTokenCount);
      expect(second.evaluatedPromptTokenCount).toBeLessThan(second.promptTokenCount);
    } finally {
      await session.dispose();
    }
  });
});

describe('chat templates of the SmolLM2 fixture, chosen by option', () => {
  let path: string;
  beforeAll(async () => {
    path = await ensureFixtureModel('smollm2-135m-instruct');
  });

  async function withModel(chatTemplate: string, check: (model: Model) => Promise<void>): Promise<void> {
    const model = await loadModel({ path, chatTemplate });
    try {
      await check(model);
    } finally {
      await model.dispose();
    }
  }

  it("a built-in name ('chatml') renders with llama.cpp's renderer for it", async () => {
    await withModel('chatml', async (model) => {
      expect(model.info.chatTemplateSource).toBe('builtin');
      expect(model.info.chatTemplate).toBe('chatml');
      expect(model.info.chatTemplateWarning).toBeUndefined();
      expect(await model.formatChat(conversation, { systemPrompt: 'Be brief.' })).toBe(CHATML_CONVERSATION);
    });
  });

  it('Jinja text given as the option renders through Jinja', async () => {
    await withModel(CUSTOM_TEMPLATE, async (model) => {
      expect(model.info.chatTemplateSource).toBe('option');
      expect(model.info.chatTemplateWarning).toBeUndefined();
      expect(await model.formatChat(conversation)).toContain('<|im_start|>assistant (custom)\n');
    });
  });

  it("a broken Jinja template that llama.cpp recognises falls back to its renderer for it, with a warning", async () => {
    // Does not parse (an unclosed expression), but its markers are ChatML's.
    await withModel('{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }<|im_end|>{% endfor %}', async (model) => {
      expect(model.info.chatTemplateSource).toBe('builtin');
      expect(model.info.chatTemplateWarning).toMatch(/failed as Jinja .*built-in renderer/);
      expect(await model.formatChat(conversation, { systemPrompt: 'Be brief.' })).toBe(CHATML_CONVERSATION);
    });
  });

  it('a Jinja template that fails to render and that nothing recognises falls back to ChatML, with a warning', async () => {
    await withModel("{{ raise_exception('no conversation here') }}", async (model) => {
      expect(model.info.chatTemplateSource).toBe('chatml-fallback');
      expect(model.info.chatTemplate).toBe('chatml');
      expect(model.info.chatTemplateWarning).toMatch(/no conversation here.*ChatML/);
      expect(await model.formatChat(conversation, { systemPrompt: 'Be brief.' })).toBe(CHATML_CONVERSATION);
      const session = model.createSession({ method: 'base', threads: testThreads });
      expect((await session.prompt('Name a colour.', { maxTokens: 4 })).generatedTokenCount).toBeGreaterThan(0);
    });
  });

  it('text without any Jinja tag is taken for a misspelt name and refused', async () => {
    await expect(loadModel({ path, chatTemplate: 'chatm1' })).rejects.toMatchObject({
      code: 'ERR_INVALID_OPTION', message: expect.stringMatching(/chatml, /),
    });
  });
});

describe.each(['qwen2.5-coder-0.5b-instruct', 'qwen2.5-coder-1.5b-instruct'] as const)('the Jinja template of %s', (name) => {
  it('renders ChatML turns, with its own default system prompt when there is none', async () => {
    const model = await loadModel({ path: await ensureFixtureModel(name) });
    try {
      expect(model.info.chatTemplateSource).toBe('gguf');
      expect(model.info.chatTemplateWarning).toBeUndefined();
      // Only the template's Jinja knows this default: llama.cpp's ChatML renderer adds no system turn.
      expect(await model.formatChat(conversation.slice(0, 1), { systemPrompt: '' })).toBe(
        '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' +
        '<|im_start|>user\nHi.<|im_end|>\n<|im_start|>assistant\n');
      expect(await model.formatChat(conversation, { systemPrompt: 'Be brief.' })).toBe(CHATML_CONVERSATION);
    } finally {
      await model.dispose();
    }
  });
});
