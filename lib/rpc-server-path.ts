/**
 * {@link rpcServerPath}: where llama.cpp's RPC server, built with the addon,
 * is.
 *
 * @packageDocumentation
 */
import fs from 'node:fs';
import path from 'node:path';
import { AmuletError } from './errors';
import { packageRoot } from './package-root';
import { nativeBindingFile } from './addon';

const EXECUTABLE = `ggml-rpc-server${process.platform === 'win32' ? '.exe' : ''}`;

/**
 * The path of llama.cpp's RPC server (`ggml-rpc-server`, from
 * vendor/llama.cpp/tools/rpc, linked with ggml alone), the worker `amulet rpc-server` runs
 * and `loadModel({ rpcServers })` connects to: `AMULET_RPC_SERVER` if set;
 * else the one beside the addon that loaded (`AMULET_ADDON`, a variant
 * package, a build folder); else the local build
 * (build/Release/); else the prebuilt one for this platform
 * (prebuilds/<platform>-<arch>/). It speaks the protocol of the addon it was
 * built with.
 *
 * @throws AmuletError ERR_NATIVE_MISSING when there is none.
 */
export function rpcServerPath(): string {
  const override = process.env['AMULET_RPC_SERVER'];
  if (override !== undefined && override !== '') return path.resolve(override);
  const root = packageRoot();
  const candidates = [
    ...besideLoadedAddon(),
    path.join(root, 'build', 'Release', EXECUTABLE),
    path.join(root, 'prebuilds', `${process.platform}-${process.arch}`, EXECUTABLE),
  ];
  const found = candidates.find((candidate) => fs.existsSync(candidate));
  if (found === undefined) {
    throw new AmuletError('ERR_NATIVE_MISSING',
      `llama.cpp's RPC server is not built (looked for ${candidates.join(', ')}): build it from source with ` +
      '`npm rebuild amulet-llm` (its install script approved), or `npm run build` in a checkout');
  }
  return found;
}

/** The RPC server beside the addon that loads, as the one built with it; none when no addon loads. */
function besideLoadedAddon(): string[] {
  try {
    return [path.join(path.dirname(nativeBindingFile()), EXECUTABLE)];
  } catch {
    return [];
  }
}
