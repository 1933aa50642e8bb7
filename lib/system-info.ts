import { nativeBinding, nativeBindingFile } from './addon';
import { variantOf, type AddonVariant } from './addon-variant';

/** What this build of the addon runs on: see {@link systemInfo}. */
export interface SystemInfo {
  /** llama.cpp's system line: the backends compiled in and the CPU features they use. */
  system: string;
  /**
   * Whether layers can be offloaded to a GPU of this machine: a GPU build
   * (the Vulkan or CUDA variant) on a machine with a GPU it can drive. Without it (and without
   * `rpcServers`), `gpuLayers > 0` fails with `ERR_INVALID_OPTION`.
   */
  gpuOffload: boolean;
  /**
   * Whether this build has ggml's RPC backend, so that `loadModel({ rpcServers })`
   * can put layers on other machines (every build of amulet-llm does).
   */
  rpc: boolean;
  /** The ggml backends compiled in, by name: `CPU`, `RPC`, and `Vulkan`, `CUDA` or `Metal` in a GPU build. */
  backends: string[];
  /**
   * Which build of the addon loaded: its variant (`cpu`, `vulkan` or
   * `cuda`, told by the GPU backend compiled in) and its file. Loading picks
   * an installed GPU variant package that finds a GPU, else the CPU build;
   * `AMULET_VARIANT` forces one.
   */
  addon: {
    /** The variant that loaded. */
    variant: AddonVariant;
    /** The path of its `.node` file. */
    file: string;
  };
}

/** What this build of the addon runs on, e.g. to choose `gpuLayers` before loading a model. */
export function systemInfo(): SystemInfo {
  const { system, gpuOffload, rpc, backends } = nativeBinding().systemInfo();
  return { system, gpuOffload, rpc, backends: [...backends], addon: { variant: variantOf(backends), file: nativeBindingFile() } };
}
