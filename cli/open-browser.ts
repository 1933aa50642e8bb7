/**
 * `amulet serve --open`: the desktop's own opener (`open` on macOS, `start`
 * on Windows, `xdg-open` elsewhere) shows the playground in the default
 * browser. A machine without one (a server, a container) only gets a line
 * saying where the page is.
 *
 * @packageDocumentation
 */
import { spawn } from 'node:child_process';

/** The address a browser on this machine reaches a server at: a wildcard host is reached on loopback. */
export function browserUrl(serverUrl: string): string {
  const url = new URL(serverUrl);
  if (url.hostname === '0.0.0.0') url.hostname = '127.0.0.1';
  if (url.hostname === '[::]') url.hostname = '[::1]';
  return url.href;
}

function openerOf(url: string): [command: string, args: string[]] {
  switch (process.platform) {
    case 'darwin': return ['open', [url]];
    // start's first quoted argument is the window title, hence the empty one.
    case 'win32': return ['cmd', ['/c', 'start', '""', url]];
    default: return ['xdg-open', [url]];
  }
}

/** Opens `url` in the default browser without waiting for it; `onFailure` gets why it could not. */
export function openBrowser(url: string, onFailure: (reason: string) => void): void {
  const [command, args] = openerOf(url);
  const child = spawn(command, args, { stdio: 'ignore', detached: true });
  child.on('error', (error) => onFailure(`${command}: ${error.message}`));
  child.on('exit', (code) => {
    if (code !== 0 && code !== null) onFailure(`${command} exited with ${code}`);
  });
  child.unref();
}
