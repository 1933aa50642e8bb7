// The sizes a llama.cpp context of the engine is created with.
#pragma once

#include <cstdint>

namespace amulet {

struct ContextOptions {
    int32_t context_size = 4096;  // the most tokens one sequence holds
    int32_t threads = 0;          // 0: one per hardware thread
    int32_t batch_size = 512;     // the most tokens one decode carries
    // KV sequences the context holds for all its sessions; 0: a private
    // context, sized for what its one session's generation needs.
    int32_t sequences = 0;
    // KV cells shared by every sequence of a context with `sequences`
    // (llama.cpp's unified cache); 0: context_size per sequence.
    int32_t cache_size = 0;
};

}  // namespace amulet
