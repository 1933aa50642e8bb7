// N-API glue of the beam search (engine/beam_search.h): one async worker per
// search, on a libuv worker thread, with an abort flag the caller can set.
#pragma once

#include <napi.h>

namespace amulet {

/**
 * [async] beamSearch(model: AddonModel, request: NativeBeamSearchRequest) =>
 * { promise: Promise<NativeBeamSearchResult>, abort(): void }.
 * Throws ERR_DISPOSED (the model was disposed); the promise rejects with
 * ERR_ABORTED, ERR_CONTEXT_CREATE, ERR_CONTEXT_FULL, ERR_DECODE, ERR_TEMPLATE.
 */
Napi::Value BeamSearchStart(const Napi::CallbackInfo & info);

}  // namespace amulet
