/**
 * The playground's entry point: connects to the server (asking for the API
 * key when it wants one), then sets up the settings panel, the chat and
 * compare views, the token view's switch and its tooltip.
 */
import { Api, KeyNeeded } from './api.js';
import { ChatView } from './chat.js';
import { CompareView } from './compare.js';
import { markdownRenderer } from './markdown.js';
import { Settings, type ServerSettings } from './settings.js';
import { attachTokenTooltip } from './token-tooltip.js';
import markdownit from './vendor/markdown-it.mjs';

const api = new Api();
const render = markdownRenderer(markdownit);
const keyForm = document.getElementById('key-form') as HTMLFormElement;
const keyInput = document.getElementById('key-input') as HTMLInputElement;
const status = document.getElementById('status')!;
let started = false;

/** Shows the key form when `error` is the server asking for a key; says whether it was. */
function keyNeeded(error: unknown): boolean {
  if (!(error instanceof KeyNeeded)) return false;
  keyForm.hidden = false;
  keyInput.focus();
  return true;
}

function start(server: ServerSettings): void {
  started = true;
  document.getElementById('model')!.textContent = server.model;
  status.textContent = `${server.slots} slot${server.slots === 1 ? '' : 's'}`;
  const page = { api, settings: new Settings(api, server), render, keyNeeded };
  new ChatView(page);
  new CompareView(page, server.slots);
  document.body.classList.add('ready');
}

async function connect(): Promise<void> {
  try {
    start(await api.getJson<ServerSettings>('playground/api/settings'));
  } catch (error) {
    if (!keyNeeded(error)) status.textContent = `cannot reach the server: ${(error as Error).message}`;
  }
}

keyForm.addEventListener('submit', (event) => {
  event.preventDefault();
  api.key = keyInput.value;
  keyInput.value = '';
  keyForm.hidden = true;
  if (!started) void connect();
});

for (const tab of document.querySelectorAll<HTMLButtonElement>('[role="tab"]')) {
  tab.addEventListener('click', () => {
    for (const other of document.querySelectorAll<HTMLButtonElement>('[role="tab"]')) {
      const selected = other === tab;
      other.setAttribute('aria-selected', String(selected));
      document.getElementById(other.getAttribute('aria-controls')!)!.hidden = !selected;
    }
  });
}

const showTokens = document.getElementById('show-tokens') as HTMLInputElement;
showTokens.addEventListener('change', () => document.body.classList.toggle('show-tokens', showTokens.checked));
attachTokenTooltip(document.getElementById('token-tooltip')!);
void connect();
