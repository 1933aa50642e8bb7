/**
 * llama.cpp RPC workers for the tests: the ggml-rpc-server built with the
 * addon (rpcServerPath), started on a free loopback port with one thread and
 * killed by the test, and fake servers that answer the handshake as another
 * protocol version would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { rpcServerPath } from '../../lib/index';

/** A port nothing listens on right now (the kernel's pick, released at once). */
export async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Resolves once something accepts connections on the port (a worker starts in well under a second). */
async function accepting(port: number, process: ChildProcess): Promise<void> {
  for (;;) {
    if (process.exitCode !== null || process.signalCode !== null) throw new Error(`the worker on port ${port} exited`);
    const connected = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (connected) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** A running worker: its `host:port`, and stop() to end it (by default the hard way, SIGKILL) and wait until it is gone. */
export interface RpcWorker {
  readonly endpoint: string;
  readonly port: number;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Starts llama.cpp's RPC server on `port` (default: a free one) with one
 * thread: `command` runs it (default: the executable itself; the CLI test
 * passes `amulet rpc-server`).
 */
export async function startWorker(port?: number, command?: (port: number) => [string, string[]]): Promise<RpcWorker> {
  const chosen = port ?? await freePort();
  const [file, args] = command?.(chosen) ??
    [rpcServerPath(), ['--host', '127.0.0.1', '--port', String(chosen), '--threads', '1']];
  const child = spawn(file, args, { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await accepting(chosen, child);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    endpoint: `127.0.0.1:${chosen}`,
    port: chosen,
    stop: async (signal = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

/**
 * A TCP server that reads a client's HELLO (command byte, 8-byte size, body)
 * and answers with `reply(requestBodySize)`, then keeps the connection open;
 * `undefined` answers nothing at all. Returns its endpoint and close().
 */
export async function fakeServer(reply: ((requestBodySize: number) => Buffer) | undefined):
  Promise<{ endpoint: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => sockets.delete(socket));
    let received = Buffer.alloc(0);
    let answered = false;
    socket.on('data', (data) => {
      received = Buffer.concat([received, data]);
      if (reply === undefined || answered || received.length < 9) return;
      const size = Number(received.readBigUInt64LE(1));
      if (received.length < 9 + size) return;
      socket.write(reply(size));
      answered = true;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    endpoint: `127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      server.close(() => resolve());
    }),
  };
}

/** A HELLO reply of llama.cpp's current layout (size, then major, minor, patch, padding, capabilities) from `major`. */
export function helloReply(major: number, requestBodySize: number): Buffer {
  const body = Buffer.alloc(4 + requestBodySize);
  body[0] = major;
  const size = Buffer.alloc(8);
  size.writeBigUInt64LE(BigInt(body.length));
  return Buffer.concat([size, body]);
}
