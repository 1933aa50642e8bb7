/**
 * The playground against a real `amulet serve` on the SmolLM2 fixture,
 * started with an API key: its routes (the page and its files to anyone and
 * nothing else, the settings and the guidance scale to a client with the
 * key), then the page in headless Chromium: it asks for the key, then
 * a chat answer streams in, a preference changes the guidance scale shown, a
 * comparison streams base, pref and amulet side by side, and hovering a
 * realigned token shows the three top tokens with their probabilities. An
 * answer carrying HTML (served by a stand-in for the server) is shown as
 * text and runs nothing. Screenshots go to a temporary folder, and to docs/
 * with AMULET_UPDATE_SCREENSHOTS=1.
 *
 * Needs Debian's chromium (`apt-get install chromium`; AMULET_CHROMIUM names
 * another binary); without it the browser tests are skipped, saying why.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { get as httpGet, type IncomingHttpHeaders } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { root, runCli, type CliOutcome } from '../support/cli-process';
import { ensureFixtureModel } from '../support/fixtures';

const chromiumPath = process.env.AMULET_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(chromiumPath);
const apiKey = 'playground-test-key';
const screenshots = mkdtempSync(join(tmpdir(), 'amulet-playground-'));
const updateDocs = process.env.AMULET_UPDATE_SCREENSHOTS === '1';

if (!haveChromium) {
  process.stdout.write(`[playground] skipped: no Chromium at ${chromiumPath} (apt-get install chromium)\n`);
}
const describeInBrowser = haveChromium ? describe : describe.skip;

/** Saves a screenshot of the page (or of one element) in the temporary folder, and in docs/ when asked. */
async function screenshot(page: Page, name: string, selector?: string): Promise<void> {
  const target = selector ? page.locator(selector) : page;
  await target.screenshot({ path: join(screenshots, `${name}.png`) });
  if (updateDocs) await target.screenshot({ path: join(root, 'docs', `${name}.png`) });
}

let server: { child: ChildProcess; outcome: Promise<CliOutcome> };
let url: string;

beforeAll(async () => {
  // The page is built with the rest of the TypeScript, as `npm run build` builds it.
  execFileSync(process.execPath, [join(root, 'scripts', 'build.mjs'), '--ts-only'], { cwd: root, stdio: 'pipe' });
  const model = await ensureFixtureModel('smollm2-135m-instruct');
  let listening!: (address: string) => void;
  const started = new Promise<string>((resolve) => {
    listening = resolve;
  });
  server = runCli(['serve', '--model', model, '--port', '0', '--parallel', '3', '--threads', '1', '--context-size', '1024',
    '--max-tokens', '24', '--api-key', apiKey], {
    onStdout: ({ stdout }) => {
      const match = /the playground is at (http:\/\/\S+)/.exec(stdout);
      if (match) listening(match[1]!);
    },
  });
  url = await Promise.race([started, server.outcome.then(({ stderr }) => {
    throw new Error(`amulet serve exited:\n${stderr}`);
  })]);
}, 120_000);

afterAll(async () => {
  if (!server) return;
  server.child.kill('SIGTERM');
  await server.outcome;
});

/** A request sent as written (fetch would resolve the dots of a path). */
function rawGet(path: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    httpGet(`${url}${path.slice(1)}`, { path }, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (text: string) => {
        body += text;
      }).on('end', () => resolve({ status: response.statusCode!, headers: response.headers, body }));
    }).on('error', reject);
  });
}

describe('the playground routes', () => {
  const authorized = { headers: { Authorization: `Bearer ${apiKey}` } };

  it('serves the page and its files to anyone, under a policy that runs only its own scripts', async () => {
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self';.*connect-src 'self'/);
    expect(await page.text()).toContain('<script type="module" src="playground/app.js">');
    for (const [file, type] of [['app.js', 'text/javascript'], ['style.css', 'text/css'], ['vendor/markdown-it.mjs', 'text/javascript']]) {
      const asset = await fetch(`${url}playground/${file}`);
      expect(asset.status).toBe(200);
      expect(asset.headers.get('content-type')).toMatch(type!);
    }
    expect((await fetch(`${url}playground/nothing.js`)).status).toBe(404);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);
  });

  it('serves nothing outside its folder', async () => {
    for (const path of ['/playground/../../package.json', '/playground/..%2F..%2Fpackage.json', '/playground/.hidden',
      '/playground/vendor/../../../package.json']) {
      const reply = await rawGet(path);
      expect(reply.status).toBe(404);
      expect(reply.body).not.toContain('amulet-llm');
    }
  });

  it("gives the server's settings to a client with the key", async () => {
    expect((await fetch(`${url}playground/api/settings`)).status).toBe(401);
    const settings = await (await fetch(`${url}playground/api/settings`, authorized)).json();
    expect(settings).toEqual({
      model: 'SmolLM2-135M-Instruct.Q4_1.gguf', method: 'amulet', alpha: 1.3, lambda: 2, eta: 10, iterations: 60, ratio: 2,
      plausibility: 0, echoGuard: false, preferences: [], slots: 3,
    });
  });

  it('computes the guidance scale of the settings given, refusing bad ones with a 400 naming the field', async () => {
    const scale = async (query: string) =>
      (await fetch(`${url}playground/api/guidance-scale?${query}`, authorized)).json() as Promise<{ guidance_scale: number }>;
    // The library's documented values: the defaults, the paper's α = 2, la's ratio, pref and base.
    expect((await scale('')).guidance_scale).toBeCloseTo(1.5338, 4);
    expect((await scale('alpha=2')).guidance_scale).toBeCloseTo(4.6487, 4);
    expect(await scale('method=la&ratio=0.5')).toEqual({ guidance_scale: 0.5 });
    expect(await scale('method=pref')).toEqual({ guidance_scale: 0 });
    expect(await scale('method=base')).toEqual({ guidance_scale: -1 });
    const refused = await fetch(`${url}playground/api/guidance-scale?alpha=-1`, authorized);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: object }).error).toMatchObject({ param: 'alpha', message: expect.stringMatching(/alpha must be a number > 0/) });
    const unknown = await fetch(`${url}playground/api/guidance-scale?method=best`, authorized);
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { error: object }).error).toMatchObject({ param: 'method' });
    // Finite settings whose scale is not: the library refuses them.
    expect((await fetch(`${url}playground/api/guidance-scale?alpha=1e300&eta=1e-300`, authorized)).status).toBe(400);
  });
});

describeInBrowser(`the playground in Chromium (${chromiumPath})`, () => {
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
    page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      // The first settings request is refused for want of the key, as it should be.
      if (message.type() === 'error' && !/401/.test(message.text())) pageErrors.push(message.text());
    });
  });

  afterAll(async () => {
    await browser?.close();
    process.stdout.write(`[playground] screenshots in ${screenshots}${updateDocs ? ' and docs/' : ''}\n`);
  });

  it('asks for the API key, then connects with it', async () => {
    await page.goto(url);
    await page.locator('#key-form').waitFor({ state: 'visible' });
    await page.fill('#key-input', apiKey);
    await page.press('#key-input', 'Enter');
    await page.waitForSelector('body.ready');
    expect(await page.textContent('#model')).toMatch(/SmolLM2/);
    expect(await page.textContent('#status')).toBe('3 slots');
  });

  it('streams a chat answer in, with what it cost', async () => {
    // Records every state the answer's status line passes through, to see it stream.
    await page.evaluate(`window.seen = [];
      new MutationObserver(() => {
        for (const stats of document.querySelectorAll('.message .stats')) window.seen.push(stats.textContent);
      }).observe(document.getElementById('messages'), { subtree: true, childList: true, characterData: true });`);
    await page.fill('#chat-input', 'Name a colour.');
    await page.press('#chat-input', 'Enter');
    const stats = page.locator('.message.assistant .stats');
    await stats.filter({ hasText: /tokens/ }).waitFor();
    expect(await stats.textContent()).toMatch(/^base · \d+ tokens/);
    expect((await page.locator('.message.assistant .markdown').textContent())!.trim().length).toBeGreaterThan(0);
    expect(await page.evaluate('window.seen')).toContain('answering…');
  });

  it('adds a preference; the guidance scale follows α', async () => {
    await page.click('#add-preference');
    await page.fill('.preference-text >> nth=-1', 'Your answer should be enthusiastic, with exclamation marks.');
    // The library's scale of the defaults and of the paper's α = 2.
    await page.locator('#scale', { hasText: 's = 1.5338' }).waitFor();
    await page.fill('#alpha', '2');
    await page.locator('#scale', { hasText: 's = 4.6487' }).waitFor();
    await page.fill('#alpha', '1.3');
    await page.locator('#scale', { hasText: 's = 1.5338' }).waitFor();
  });

  it('compares base, pref and amulet side by side, each with its tokens per second', async () => {
    await page.click('#tab-compare');
    await page.fill('#compare-input', 'Describe the sea in one sentence.');
    await page.click('#compare-run');
    const columns = page.locator('.column');
    for (let index = 0; index < 3; index += 1) await columns.nth(index).locator('.stats', { hasText: /tokens/ }).waitFor();
    expect(await columns.count()).toBe(3);
    expect(await columns.locator('h3').allTextContents()).toEqual(['base', 'pref', 'amulet']);
    expect(await columns.nth(2).locator('.stats').textContent()).toMatch(/^amulet \(s = 1\.53\) · \d+ tokens/);
    for (const text of await columns.locator('.markdown').allTextContents()) expect(text.trim().length).toBeGreaterThan(0);
    await screenshot(page, 'playground-compare');
  });

  it('shades the realigned tokens; hovering or focusing one shows the top tokens and their probabilities', async () => {
    await page.check('#show-tokens');
    const tokens = page.locator('.column.realigned .token');
    expect(await tokens.count()).toBeGreaterThan(1);
    // A token the realignment picked against the preference prompt's choice shows the most, when there is one.
    const changed = page.locator('.column.realigned .token.changed');
    await ((await changed.count()) > 0 ? changed.first() : tokens.nth(1)).hover();
    const tooltip = page.locator('#token-tooltip');
    await tooltip.waitFor({ state: 'visible' });
    const rows = await tooltip.locator('tbody tr').evaluateAll((elements) =>
      elements.map((row) => [...row.children].map((cell) => cell.textContent ?? '')));
    expect(rows.map(([label]) => label)).toEqual(['base', 'preference', 'realigned']);
    for (const [, text, probability] of rows) {
      expect(text).toMatch(/^“.*”$/s);
      const percent = Number(/^([\d.]+)%$/.exec(probability!)?.[1]);
      expect(percent).toBeGreaterThan(0);
      expect(percent).toBeLessThanOrEqual(100);
    }
    expect(await tooltip.locator('caption').textContent()).toMatch(/^KL\(realigned ‖ base\) = \d+\.\d{3} nats$/);
    await screenshot(page, 'playground-tokens');
    await page.mouse.move(0, 0);
    await tooltip.waitFor({ state: 'hidden' });
    // The keyboard reaches the same: a focused token shows its tooltip too.
    await tokens.first().focus();
    await tooltip.waitFor({ state: 'visible' });
    expect(await tooltip.locator('tbody tr').count()).toBeGreaterThanOrEqual(3);
    await tokens.first().blur();
    await tooltip.waitFor({ state: 'hidden' });
    await page.uncheck('#show-tokens');
  });

  it('shows an answer carrying HTML as text, and runs none of it', async () => {
    const hostile = 'Here: <script>window.pwned = 1</script> <img src="x" onerror="window.pwned = 2"> ' +
      '**bold** [link](javascript:window.pwned=3)';
    const chunk = (delta: object, extra: object = {}) => `data: ${JSON.stringify({
      object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: null }], ...extra })}\n\n`;
    // A stand-in for the server: the page renders what any model could have written.
    await page.route('**/v1/chat/completions', (route) => route.fulfill({
      status: 200, contentType: 'text/event-stream',
      body: chunk({ role: 'assistant', content: '' }) + chunk({ content: hostile }) +
        chunk({}, { amulet: { method: 'base', guidance_scale: -1 }, usage: { completion_tokens: 30 } }) + 'data: [DONE]\n\n',
    }));
    await page.click('#tab-chat');
    await page.click('#reset');
    expect(await page.locator('.message').count()).toBe(0);
    await page.fill('#chat-input', 'Say something dangerous.');
    await page.press('#chat-input', 'Enter');
    const answer = page.locator('.message.assistant');
    await answer.locator('.stats', { hasText: /tokens/ }).waitFor();
    await page.unroute('**/v1/chat/completions');
    const markdown = answer.locator('.markdown');
    const text = await markdown.textContent();
    expect(text).toContain('<script>window.pwned = 1</script>');
    expect(text).toContain('<img src="x" onerror="window.pwned = 2">');
    expect(await markdown.locator('script, img, [onerror]').count()).toBe(0);
    expect(await markdown.locator('strong').textContent()).toBe('bold');
    expect(await markdown.locator('a').count()).toBe(0);
    expect(await page.evaluate('window.pwned')).toBeUndefined();
  });

  it('raised no error on the page', () => {
    expect(pageErrors).toEqual([]);
  });
});
