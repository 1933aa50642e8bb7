// A GGUF model loaded into memory, shared (shared_ptr) by every context made
// from it so the weights outlive the last session that uses them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/chat_template.h"
#include "engine/engine_error.h"
#include "engine/llama_handles.h"
#include "engine/rpc_servers.h"

namespace amulet {

struct ModelLoadOptions {
    std::string path;
    int32_t gpu_layers = 0;
    bool use_mmap = true;
    /** A llama.cpp template name or Jinja text to use instead of the GGUF's template (empty: the GGUF's). */
    std::string chat_template;
    /** llama.cpp RPC servers ("host:port") whose devices take offloaded layers before any local GPU. */
    std::vector<std::string> rpc_servers;
    /** Each offload device's share of the offloaded layers (empty: by free memory, as llama.cpp does). */
    std::vector<float> tensor_split;
    /** Called with the fraction loaded, on the loading thread; return false to cancel. */
    std::function<bool(float)> on_progress;
};

/** Where a model's output layer, and so its logits, are computed. */
enum class LogitsOn { Cpu, Gpu, Rpc };

/** A device that holds part of a model, and which part. */
struct DevicePlacement {
    std::string name;
    std::string description;
    /** "cpu", "gpu" or "rpc". */
    const char * kind;
    /** The repeating layers it holds, first to last; first is -1 when it holds none. */
    int32_t first_layer = -1;
    int32_t last_layer = -1;
    bool output = false;
    /** Free and total memory of the device when the model was loaded, in bytes. */
    uint64_t memory_free = 0;
    uint64_t memory_total = 0;
};

class LoadedModel {
  public:
    /**
     * Loads the model; throws EngineError (ERR_MODEL_LOAD, ERR_INVALID_OPTION,
     * ERR_RPC_*, or ERR_ABORTED when cancelled).
     */
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
    /** How many repeating layers llama.cpp put on a GPU or an RPC server. */
    int32_t offloaded_layers() const { return offloaded_layers_; }
    /** Where the output layer, and so the logits, is. */
    LogitsOn logits_on() const { return logits_on_; }
    /** The CPU and every offload device, with the layers each holds. */
    const std::vector<DevicePlacement> & placement() const { return placement_; }
    /**
     * Throws ERR_RPC_* when the connection to one of the model's RPC servers
     * has failed. Call it once llama.cpp's work is done (after
     * llama_synchronize): until then a failure may not be known.
     */
    void check_remote() const { rpc_.check(); }
    bool has_remote() const { return !rpc_.empty(); }

    /**
     * Takes ownership of an already loaded model (use load()); `devices` are
     * the offload devices it was given. Throws what ChatTemplate throws.
     */
    LoadedModel(ModelHandle model, const std::string & chat_template_option, RpcServers rpc,
                const std::vector<ggml_backend_dev_t> & devices);

  private:
    ModelHandle model_;
    ChatTemplate chat_template_;
    RpcServers rpc_;
    std::vector<DevicePlacement> placement_;
    int32_t offloaded_layers_ = 0;
    LogitsOn logits_on_ = LogitsOn::Cpu;
};

/**
 * Describes the exception being handled (call inside a catch block), unless
 * one of the model's RPC servers was lost: then that, which explains whatever
 * llama.cpp failed at after it (an allocation, a decode). An abort stays an abort.
 */
ErrorInfo describe_failure(const LoadedModel & model);

}  // namespace amulet
