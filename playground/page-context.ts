/** What every view of the page works with. */
import type { Api } from './api.js';
import type { Settings } from './settings.js';

export interface PageContext {
  api: Api;
  settings: Settings;
  /** Markdown to safe HTML (see markdown.ts). */
  render: (source: string) => string;
  /** Shows the API key form when `error` is the server asking for the key; says whether it was. */
  keyNeeded: (error: unknown) => boolean;
}
