import { nativeBinding } from './addon';

/** What this build of the addon runs on: see {@link systemInfo}. */
export interface SystemInfo {
  /** llama.cpp's system line: the backends compiled in and the CPU features they use. */
  system: string;
  /**
   * Whether layers can be offloaded to a GPU: a GPU build (`npm run
   * build:cuda`) on a machine with a GPU. Without it, `gpuLayers > 0` fails
   * with `ERR_INVALID_OPTION`.
   */
  gpuOffload: boolean;
}

/** What this build of the addon runs on, e.g. to choose `gpuLayers` before loading a model. */
export function systemInfo(): SystemInfo {
  const { system, gpuOffload } = nativeBinding().systemInfo();
  return { system, gpuOffload };
}
