/**
 * Every relative link and every repository path that the README, CONTRIBUTING.md
 * and docs/ quote exists (a linked heading too), and so does every path that
 * a comment under lib/, cli/, native/, test/ or tools/ cites: files move, and
 * the prose that points at them is the last to know.
 *
 * Only what clearly names a file of this repository is checked: Markdown
 * link targets, and backticked or commented paths that start with one of the
 * tree's folders (or name a Markdown file or a test file). Build outputs and
 * the materialised llama.cpp are not in a clean checkout, so paths under
 * them are left alone.
 */
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..', '..');

/** Folders whose paths are cited; a path starting with one of them must exist. */
const TREE_FOLDERS = ['lib', 'cli', 'native', 'test', 'docs', 'bench', 'tools', 'scripts', 'vendor', 'eval', '.ci'];
/** Generated or materialised, so absent from a clean checkout. */
const GENERATED = ['vendor/llama.cpp', 'bench/results', 'bench/.venv', 'bench/node_modules', 'docs/api'];
const SKIPPED_DIRS = new Set(['node_modules', '.git', 'build', 'build-portable', 'build-cuda', 'dist', 'prebuilds',
  'models', '.cache', '.gpu-pack', 'llama.cpp', 'results', '.venv']);

function walk(dir: string, out: string[] = []): string[] {
  for (const entry of fs.readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const relative = dir === '' ? entry.name : `${dir}/${entry.name}`;
    if (entry.isDirectory()) {
      if (!SKIPPED_DIRS.has(entry.name) && !GENERATED.includes(relative)) walk(relative, out);
    } else {
      out.push(relative);
    }
  }
  return out;
}

const files = walk('');
const fileSet = new Set(files);
const basenames = new Set(files.map((file) => path.posix.basename(file)));
const folders = new Set(files.flatMap((file) => file.split('/').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('/'))));

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+^$()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]');
  return new RegExp(`^${escaped}$`);
}

/** Whether a repository path (relative to the root; a folder, a file or a glob) exists. */
function exists(repoPath: string): boolean {
  const clean = repoPath.replace(/\/+$/, '');
  if (clean.includes('*') || clean.includes('?')) {
    const pattern = globToRegExp(clean);
    return files.some((file) => pattern.test(file)) || [...folders].some((folder) => pattern.test(folder));
  }
  return fileSet.has(clean) || fs.existsSync(path.join(root, clean));
}

/** A path-like token that starts with one of the tree's folders. */
const TREE_PATH = new RegExp(`(?<![\\w./-])(?:${TREE_FOLDERS.map((folder) => folder.replace('.', '\\.')).join('|')})/[\\w.*/-]*[\\w*/]`, 'g');
/** A bare Markdown or test file name (e.g. `algorithm.md`, `sessions.test.ts`). */
const BARE_FILE = /(?<![\w./-])[\w-]+(?:\.md|\.test\.ts)(?![\w/-])/g;

interface Finding {
  file: string;
  line: number;
  cited: string;
}

function pathsIn(text: string): string[] {
  // "llama.cpp's tools/rpc", "ggml's docs/gguf.md": another project's paths.
  const cited = [...text.matchAll(TREE_PATH)].filter((match) => !text.slice(0, match.index).endsWith("'s "))
    .map((match) => match[0]);
  const bare = [...text.matchAll(BARE_FILE)].map((match) => match[0]);
  return [...cited, ...bare].filter((candidate) => !/[<>{}$]/.test(candidate));
}

function citedPathExists(cited: string): boolean {
  if (GENERATED.some((prefix) => cited.startsWith(prefix))) return true;
  if (!cited.includes('/')) return basenames.has(cited);
  // A numbered file cited by its number: vendor/patches/0002 for vendor/patches/0002-*.patch.
  return exists(cited) || files.some((file) => file.startsWith(`${cited}-`));
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
function slug(heading: string): string {
  return heading.trim().toLowerCase().replace(/[`*_]/g, '').replace(/[^\p{L}\p{N} -]/gu, '').replace(/ /g, '-');
}

function anchorsOf(markdownFile: string): Set<string> {
  const text = fs.readFileSync(path.join(root, markdownFile), 'utf8');
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutFences(text)) {
    const heading = /^#{1,6}\s+(.*)$/.exec(line.text);
    if (!heading) continue;
    const base = slug(heading[1]!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** The lines of a Markdown text outside fenced code blocks (commands there may name outputs that do not exist yet). */
function withoutFences(text: string): { text: string; line: number }[] {
  const lines: { text: string; line: number }[] = [];
  let fenced = false;
  text.split('\n').forEach((line, index) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return;
    }
    if (!fenced) lines.push({ text: line, line: index + 1 });
  });
  return lines;
}

const markdownFiles = files.filter((file) =>
  file === 'README.md' || file === 'CONTRIBUTING.md' || file === 'bench/README.md' ||
  (file.startsWith('docs/') && file.endsWith('.md')));

function brokenLinks(file: string): Finding[] {
  const findings: Finding[] = [];
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  for (const { text: line, line: number } of withoutFences(text)) {
    for (const match of line.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
      const target = match[1]!;
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;  // https:, mailto:
      const [linked, anchor] = target.split('#') as [string, string | undefined];
      const resolved = linked === '' ? file : path.posix.normalize(path.posix.join(path.posix.dirname(file), linked));
      if (resolved.startsWith('..') || !exists(resolved)) {
        findings.push({ file, line: number, cited: target });
      } else if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(resolved).has(anchor)) {
        findings.push({ file, line: number, cited: target });
      }
    }
    for (const span of line.matchAll(/`([^`]+)`/g)) {
      for (const cited of pathsIn(span[1]!)) {
        if (!citedPathExists(cited)) findings.push({ file, line: number, cited });
      }
    }
  }
  return findings;
}

const SOURCE_FOLDERS = ['lib', 'cli', 'native', 'test', 'tools'];
const sourceFiles = files.filter((file) =>
  SOURCE_FOLDERS.includes(file.split('/')[0]!) && /\.(ts|mts|mjs|js|cpp|h|sh)$/.test(file));

/** Lines of comments: `//`, `#` and block-comment lines (what a path in a string is does not count). */
function commentLines(text: string, file: string): { text: string; line: number }[] {
  const lines: { text: string; line: number }[] = [];
  let block = false;
  const hashComments = file.endsWith('.sh');
  text.split('\n').forEach((line, index) => {
    let comment: string | undefined;
    if (block) {
      comment = line;
      if (line.includes('*/')) block = false;
    } else if (/^\s*\/\*/.test(line)) {
      comment = line;
      block = !line.includes('*/');
    } else {
      const trailing = /(?:^|\s)\/\/(.*)$/.exec(line);
      if (trailing) comment = trailing[1];
      else if (hashComments && /^\s*#/.test(line)) comment = line;
    }
    if (comment !== undefined) lines.push({ text: comment, line: index + 1 });
  });
  return lines;
}

function brokenCitations(file: string): Finding[] {
  const text = fs.readFileSync(path.join(root, file), 'utf8');
  const findings: Finding[] = [];
  for (const { text: comment, line } of commentLines(text, file)) {
    for (const cited of pathsIn(comment)) {
      if (!citedPathExists(cited)) findings.push({ file, line, cited });
    }
  }
  return findings;
}

describe('paths in the docs', () => {
  it('finds the docs', () => {
    expect(markdownFiles).toEqual(expect.arrayContaining(['README.md', 'CONTRIBUTING.md', 'docs/algorithm.md']));
  });

  it.each(markdownFiles)('%s links and quotes only what exists', (file) => {
    expect(brokenLinks(file)).toEqual([]);
  });
});

describe('paths in code comments', () => {
  it('every path a comment cites exists', () => {
    expect(sourceFiles.length).toBeGreaterThan(50);
    expect(sourceFiles.flatMap(brokenCitations)).toEqual([]);
  });
});
