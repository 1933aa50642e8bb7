/**
 * `amulet rpc-server`'s command line: the options of llama.cpp's RPC worker,
 * parsed and checked here, with one rule of our own: the worker binds to the
 * loopback address unless `--allow-remote` says that exposing it is meant.
 * Mistakes throw a {@link UsageError}.
 *
 * @packageDocumentation
 */
import { isIPv4 } from 'node:net';
import { parseArgs } from 'node:util';
import type { NumberRule } from '../lib/option-rules';
import { flagValue, parseErrorMessage, quote, UsageError } from './flags';

export const rpcServerOptions = {
  host: { type: 'string' },
  port: { type: 'string' },
  threads: { type: 'string' },
  device: { type: 'string' },
  cache: { type: 'boolean' },
  'allow-remote': { type: 'boolean' },
  mem: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** llama.cpp's own default port for the RPC server. */
export const DEFAULT_RPC_PORT = 50052;
export const DEFAULT_RPC_HOST = '127.0.0.1';

const portRule: NumberRule = {
  kind: 'number', name: 'port', flag: 'port', integer: true, min: 1, max: 65_535, default: DEFAULT_RPC_PORT,
  description: 'TCP port to listen on',
};
const threadsRule: NumberRule = {
  kind: 'number', name: 'threads', flag: 'threads', integer: true, min: 1, max: 1024, default: 1,
  description: 'CPU threads of the worker',
};

/** What `amulet rpc-server` is asked to run. */
export interface RpcServerRequest {
  /** An IPv4 address to bind to (llama.cpp's server takes no host names). */
  host: string;
  port: number;
  /** undefined: llama.cpp's default, half the hardware threads. */
  threads: number | undefined;
  /** ggml device names (`CUDA0,CUDA1`); undefined: every GPU, else the CPU. */
  devices: string[] | undefined;
  cache: boolean;
}

export type RpcServerCommandLine = { kind: 'help' } | { kind: 'run'; request: RpcServerRequest };

/** Whether an IPv4 address is a loopback one (127.0.0.0/8): reachable from this machine only. */
export function isLoopback(host: string): boolean {
  return isIPv4(host) && host.startsWith('127.');
}

/** Parses `amulet rpc-server`'s arguments (without the word `rpc-server`). */
export function parseRpcServerCommandLine(args: readonly string[]): RpcServerCommandLine {
  let values;
  try {
    ({ values } = parseArgs({ args: [...args], options: rpcServerOptions, allowPositionals: false, strict: true }));
  } catch (error) {
    throw new UsageError(parseErrorMessage(error as Error));
  }
  if (values.help) return { kind: 'help' };
  if (values.mem !== undefined) {
    throw new UsageError("--mem is gone from llama.cpp's RPC server: a worker offers its device's own memory; " +
      'divide the layers on the client instead, with --tensor-split');
  }
  const host = values.host ?? DEFAULT_RPC_HOST;
  if (!isIPv4(host)) throw new UsageError(`--host must be an IPv4 address, such as 127.0.0.1 or 0.0.0.0 (got ${quote(host)})`);
  if (!isLoopback(host) && !values['allow-remote']) {
    throw new UsageError(`--host ${host} would let anyone who can reach this machine use the worker: the RPC ` +
      'protocol has no authentication or encryption; add --allow-remote if that is meant');
  }
  const devices = values.device?.split(',').map((name) => name.trim()).filter((name) => name !== '');
  if (devices?.length === 0) throw new UsageError('--device needs at least one device name, such as CUDA0');
  return {
    kind: 'run',
    request: {
      host,
      port: (flagValue(portRule, values.port) as number | undefined) ?? DEFAULT_RPC_PORT,
      threads: flagValue(threadsRule, values.threads) as number | undefined,
      devices,
      cache: values.cache ?? false,
    },
  };
}

/** The arguments of llama.cpp's `ggml-rpc-server` for a request. */
export function rpcServerArguments(request: RpcServerRequest): string[] {
  const args = ['--host', request.host, '--port', String(request.port)];
  if (request.threads !== undefined) args.push('--threads', String(request.threads));
  if (request.devices !== undefined) args.push('--device', request.devices.join(','));
  if (request.cache) args.push('--cache');
  return args;
}

export function rpcServerHelpText(): string {
  return `amulet rpc-server: run llama.cpp's RPC server, a worker that holds some of a
model's layers for an amulet (or llama.cpp) process on another machine.

Usage:
  amulet rpc-server [--host 127.0.0.1] [--port ${DEFAULT_RPC_PORT}] [--threads N] [--cache]
  amulet --rpc <host>:<port>[,...] "<question>" ...   (on the machine that asks)

Options:
  --host <ipv4>               Address to listen on (default ${DEFAULT_RPC_HOST}, this
                              machine only). Any other needs --allow-remote.
  --port <n>                  TCP port (default ${DEFAULT_RPC_PORT}).
  --threads <n>               CPU threads (default: half the hardware threads).
  --device <a,b,...>          ggml devices to offer, e.g. CUDA0,CUDA1 (default:
                              every GPU, else the CPU).
  --cache                     Keep large tensors in a local cache
                              ($LLAMA_CACHE, else ~/.cache/llama.cpp/rpc), so
                              that a model is sent once, not on every load.
  --allow-remote              Allow a --host that other machines can reach.

Security: the RPC protocol has no authentication and no encryption. Whoever
can connect to the port can allocate the worker's memory, read and write
its tensors and run computations on it. Keep it on 127.0.0.1, or on a
private network behind a firewall that admits only the amulet host (or
tunnel it, e.g. ssh -L). A worker serves one client at a time.
`;
}
