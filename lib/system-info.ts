import { nativeBinding } from './addon';

/** What this build of the addon runs on: see {@link systemInfo}. */
export interface SystemInfo {
  /** llama.cpp's system line: the backends compiled in and the CPU features they use. */
  system: string;
  /**
   * Whether layers can be offloaded to a GPU of this machine: a GPU build
   * (`npm run build:cuda`) on a machine with a GPU. Without it (and without
   * `rpcServers`), `gpuLayers > 0` fails with `ERR_INVALID_OPTION`.
   */
  gpuOffload: boolean;
  /**
   * Whether this build has ggml's RPC backend, so that `loadModel({ rpcServers })`
   * can put layers on other machines (every build of amulet-llm does).
   */
  rpc: boolean;
  /** The ggml backends compiled in, by name: `CPU`, `RPC`, and `CUDA` or `Metal` in a GPU build. */
  backends: string[];
}

/** What this build of the addon runs on, e.g. to choose `gpuLayers` before loading a model. */
export function systemInfo(): SystemInfo {
  const { system, gpuOffload, rpc, backends } = nativeBinding().systemInfo();
  return { system, gpuOffload, rpc, backends: [...backends] };
}
