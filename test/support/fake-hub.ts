/**
 * A stand-in for the Hugging Face Hub and its CDN on loopback, for the model
 * download tests. The hub (on 127.0.0.1) serves the hub's URL layout and
 * answers `resolve` requests for LFS files with a 302 to the CDN (on
 * `localhost`, so a different host), carrying `X-Linked-Etag` and
 * `X-Linked-Size` as the real hub does. The CDN honours `Range` and can be
 * told to cut connections, ignore `Range` or send slowly. Both record every
 * request.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { drained } from '../../lib/server/drained';

/** A file in a fake repository. */
export interface FakeRepoFile {
  owner: string;
  repo: string;
  revision?: string;
  path: string;
  content: Buffer;
  /** The digest the hub publishes; defaults to the content's. */
  publishedSha256?: string;
  /** Answer 401 unless the request carries the hub's token. */
  private?: boolean;
}

/** A request either server received. */
export interface RecordedRequest {
  server: 'hub' | 'cdn';
  path: string;
  headers: IncomingMessage['headers'];
  status?: number;
}

/** How the CDN misbehaves; tests set these. */
export interface CdnBehaviour {
  /** Cut this many of the next responses after `cutAfterBytes` body bytes. */
  cuts: number;
  cutAfterBytes: number;
  /** Answer every request with the whole file, as a server without Range support does. */
  ignoreRange: boolean;
  /** Pause this long after each 64 KiB. */
  delayPerChunkMs: number;
}

export function sha256Of(content: Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** Deterministic pseudo-random bytes, so a failing comparison is reproducible. */
export function testBytes(size: number, seed: number): Buffer {
  const bytes = Buffer.alloc(size);
  let state = seed >>> 0 || 1;
  for (let index = 0; index < size; index++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[index] = state & 0xff;
  }
  return bytes;
}

const CHUNK = 64 * 1024;

async function listen(server: Server, host: string): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return `http://${host}:${(server.address() as AddressInfo).port}`;
}

export class FakeHub {
  readonly files: FakeRepoFile[] = [];
  /** Plain files the CDN serves at `/files/<name>`. */
  readonly plainFiles = new Map<string, Buffer>();
  readonly requests: RecordedRequest[] = [];
  readonly cdn: CdnBehaviour = { cuts: 0, cutAfterBytes: 0, ignoreRange: false, delayPerChunkMs: 0 };
  /** The token private files want. */
  token = 'hf_test_token';
  /** Statuses the hub answers the next resolve requests with, one each, before behaving. */
  readonly failNextResolves: number[] = [];
  /** Entries per page of the tree listing. */
  treePageSize = 1000;

  private constructor(
    private readonly hubServer: Server,
    private readonly cdnServer: Server,
    readonly hubUrl: string,
    readonly cdnUrl: string,
  ) {}

  static async start(): Promise<FakeHub> {
    let hub: FakeHub | undefined;
    const hubServer = createServer((request, response) => hub!.handleHub(request, response));
    const cdnServer = createServer((request, response) => hub!.handleCdn(request, response));
    const hubUrl = await listen(hubServer, '127.0.0.1');
    const cdnUrl = await listen(cdnServer, 'localhost');
    hub = new FakeHub(hubServer, cdnServer, hubUrl, cdnUrl);
    return hub;
  }

  addFile(file: FakeRepoFile): FakeRepoFile {
    this.files.push(file);
    return file;
  }

  requestsTo(server: 'hub' | 'cdn'): RecordedRequest[] {
    return this.requests.filter((request) => request.server === server);
  }

  async close(): Promise<void> {
    for (const server of [this.hubServer, this.cdnServer]) {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }

  private record(server: 'hub' | 'cdn', request: IncomingMessage, response: ServerResponse): void {
    const recorded: RecordedRequest = { server, path: request.url ?? '', headers: request.headers };
    this.requests.push(recorded);
    response.on('finish', () => (recorded.status = response.statusCode));
    response.on('close', () => (recorded.status ??= response.statusCode));
  }

  private handleHub(request: IncomingMessage, response: ServerResponse): void {
    this.record('hub', request, response);
    const url = new URL(request.url ?? '/', this.hubUrl);
    const parts = url.pathname.split('/').slice(1).map(decodeURIComponent);
    if (parts[0] === 'api' && parts[1] === 'models' && parts[4] === 'tree') {
      this.serveTree(parts[2]!, parts[3]!, parts[5]!, url, response);
      return;
    }
    const [owner, repo, resolve, revision, ...path] = parts;
    if (resolve !== 'resolve') {
      response.writeHead(404).end();
      return;
    }
    const failure = this.failNextResolves.shift();
    if (failure !== undefined) {
      response.writeHead(failure).end();
      return;
    }
    const file = this.files.find(
      (candidate) =>
        candidate.owner === owner &&
        candidate.repo === repo &&
        (candidate.revision ?? 'main') === revision &&
        candidate.path === path.join('/'),
    );
    if (file === undefined) {
      response.writeHead(404, { 'X-Error-Code': 'EntryNotFound', 'X-Error-Message': 'Entry not found' }).end();
      return;
    }
    if (file.private === true && request.headers.authorization !== `Bearer ${this.token}`) {
      response.writeHead(401, { 'X-Error-Message': 'Invalid username or password.' }).end();
      return;
    }
    const sha256 = sha256Of(file.content);
    const published = file.publishedSha256 ?? sha256;
    response
      .writeHead(302, {
        Location: `${this.cdnUrl}/blobs/${sha256}?X-Amz-Signature=secret`,
        'X-Linked-Etag': `"${published}"`,
        'X-Linked-Size': String(file.content.length),
        ETag: `"${published}"`,
      })
      .end();
  }

  private serveTree(owner: string, repo: string, revision: string, url: URL, response: ServerResponse): void {
    const entries = this.files
      .filter((file) => file.owner === owner && file.repo === repo && (file.revision ?? 'main') === revision)
      .map((file) => ({
        type: 'file',
        oid: sha256Of(file.content).slice(0, 40),
        size: file.content.length,
        path: file.path,
        lfs: { oid: sha256Of(file.content), size: file.content.length, pointerSize: 134 },
      }));
    if (entries.length === 0) {
      response.writeHead(404, { 'X-Error-Message': 'Repository not found' }).end();
      return;
    }
    const cursor = Number(url.searchParams.get('cursor') ?? '0');
    const page = entries.slice(cursor, cursor + this.treePageSize);
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (cursor + this.treePageSize < entries.length) {
      const next = new URL(url.href);
      next.searchParams.set('cursor', String(cursor + this.treePageSize));
      headers.Link = `<${next.href}>; rel="next"`;
    }
    response.writeHead(200, headers).end(JSON.stringify(page));
  }

  private handleCdn(request: IncomingMessage, response: ServerResponse): void {
    this.record('cdn', request, response);
    const url = new URL(request.url ?? '/', this.cdnUrl);
    const [kind, name] = url.pathname.split('/').slice(1);
    const content =
      kind === 'blobs'
        ? this.files.find((file) => sha256Of(file.content) === name)?.content
        : kind === 'files'
          ? this.plainFiles.get(decodeURIComponent(name ?? ''))
          : undefined;
    if (content === undefined) {
      response.writeHead(404).end();
      return;
    }
    void this.serveBytes(request, response, content);
  }

  private async serveBytes(request: IncomingMessage, response: ServerResponse, content: Buffer): Promise<void> {
    const headers: Record<string, string> = { 'Accept-Ranges': 'bytes', ETag: `"${sha256Of(content)}"` };
    let start = 0;
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    if (range !== null && !this.cdn.ignoreRange) {
      start = Number(range[1]);
      if (start >= content.length) {
        response.writeHead(416, { ...headers, 'Content-Range': `bytes */${content.length}` }).end();
        return;
      }
      response.writeHead(206, {
        ...headers,
        'Content-Range': `bytes ${start}-${content.length - 1}/${content.length}`,
        'Content-Length': String(content.length - start),
      });
    } else {
      response.writeHead(200, { ...headers, 'Content-Length': String(content.length) });
    }
    let body = content.subarray(start);
    const cut = this.cdn.cuts > 0;
    if (cut) {
      this.cdn.cuts--;
      body = body.subarray(0, this.cdn.cutAfterBytes);
    }
    for (let offset = 0; offset < body.length && !response.destroyed; offset += CHUNK) {
      const piece = body.subarray(offset, offset + CHUNK);
      if (!response.write(piece)) {
        await drained(response);
      }
      if (this.cdn.delayPerChunkMs > 0) await new Promise((resolve) => setTimeout(resolve, this.cdn.delayPerChunkMs));
    }
    if (cut) {
      // Let the bytes written so far leave, then drop the connection mid-body.
      await new Promise((resolve) => setTimeout(resolve, 20));
      response.socket?.destroy();
      return;
    }
    response.end();
  }
}
