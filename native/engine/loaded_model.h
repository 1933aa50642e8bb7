// A GGUF model loaded into memory, shared (shared_ptr) by every context made
// from it so the weights outlive the last session that uses them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "engine/chat_template.h"
#include "engine/llama_handles.h"

namespace amulet {

struct ModelLoadOptions {
    std::string path;
    int32_t gpu_layers = 0;
    bool use_mmap = true;
    /** A llama.cpp template name or Jinja text to use instead of the GGUF's template (empty: the GGUF's). */
    std::string chat_template;
    /** Called with the fraction loaded, on the loading thread; return false to cancel. */
    std::function<bool(float)> on_progress;
};

class LoadedModel {
  public:
    /** Loads the model; throws EngineError (ERR_MODEL_LOAD, or ERR_ABORTED when cancelled). */
    static std::shared_ptr<LoadedModel> load(const ModelLoadOptions & options);

    llama_model * get() const { return model_.get(); }
    const llama_vocab * vocab() const { return llama_model_get_vocab(model_.get()); }
    int32_t n_vocab() const { return llama_vocab_n_tokens(vocab()); }
    int32_t n_ctx_train() const { return llama_model_n_ctx_train(model_.get()); }
    /** The template prompts are rendered with (ChatTemplate). */
    const ChatTemplate & chat_template() const { return chat_template_; }
    std::string description() const;
    uint64_t size_bytes() const { return llama_model_size(model_.get()); }
    uint64_t n_params() const { return llama_model_n_params(model_.get()); }
    /** The repeating (transformer) layers. */
    int32_t n_layer() const { return llama_model_n_layer(model_.get()); }
    /** How many repeating layers llama.cpp put on a GPU. */
    int32_t offloaded_layers() const { return std::min(gpu_layers_, n_layer()); }
    /**
     * True when llama.cpp put the output layer, and so the logits, on a GPU:
     * it offloads it once gpu_layers exceeds the repeating layers.
     */
    bool logits_on_gpu() const { return gpu_layers_ > n_layer(); }

    /** Takes ownership of an already loaded model (use load()); throws what ChatTemplate throws. */
    LoadedModel(ModelHandle model, const std::string & chat_template_option, int32_t gpu_layers = 0);

  private:
    ModelHandle model_;
    ChatTemplate chat_template_;
    int32_t gpu_layers_;  // as asked for; 0 when llama.cpp has no GPU backend
};

}  // namespace amulet
