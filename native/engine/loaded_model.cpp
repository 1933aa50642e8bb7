#include "engine/loaded_model.h"

#include <fstream>

#include "engine/engine_error.h"
#include "engine/llama_log.h"

namespace amulet {

namespace {

bool forward_progress(float progress, void * user_data) {
    const auto * callback = static_cast<const std::function<bool(float)> *>(user_data);
    return (*callback)(progress);
}

}  // namespace

LoadedModel::LoadedModel(ModelHandle model, const std::string & chat_template_option, int32_t gpu_layers)
    : model_(std::move(model)), chat_template_(model_.get(), chat_template_option), gpu_layers_(gpu_layers) {}

std::shared_ptr<LoadedModel> LoadedModel::load(const ModelLoadOptions & options) {
    init_llama_backend();
    if (!std::ifstream(options.path, std::ios::binary).good()) {
        throw EngineError(error_code::kModelLoad, "cannot open model file: " + options.path);
    }
    // llama.cpp quietly keeps every layer on the CPU when it has no GPU; asking
    // for layers there is the caller's mistake, not a request to ignore.
    if (options.gpu_layers > 0 && !llama_supports_gpu_offload()) {
        throw EngineError(error_code::kInvalidOption,
                          "gpuLayers > 0 needs a GPU: this build of amulet-llm has no GPU backend, or it found no GPU");
    }
    llama_model_params params = llama_model_default_params();
    params.n_gpu_layers = options.gpu_layers;
    if (!options.use_mmap) params.load_mode = LLAMA_LOAD_MODE_NONE;
    bool cancelled = false;
    const std::function<bool(float)> progress = [&](float fraction) {
        cancelled = options.on_progress && !options.on_progress(fraction);
        return !cancelled;
    };
    params.progress_callback = forward_progress;
    params.progress_callback_user_data = const_cast<std::function<bool(float)> *>(&progress);

    take_llama_log_errors();
    ModelHandle model(llama_model_load_from_file(options.path.c_str(), params));
    if (!model) {
        if (cancelled) throw EngineError(error_code::kAborted, "model loading was aborted");
        const std::string why = take_llama_log_errors();
        throw EngineError(error_code::kModelLoad,
                          "failed to load model " + options.path + (why.empty() ? "" : ": " + why));
    }
    if (llama_model_has_encoder(model.get()) && !llama_model_has_decoder(model.get())) {
        throw EngineError(error_code::kModelLoad, "the model is encoder-only and cannot generate text: " + options.path);
    }
    return std::make_shared<LoadedModel>(std::move(model), options.chat_template, options.gpu_layers);
}

std::string LoadedModel::description() const {
    char buffer[256];
    const int32_t n = llama_model_desc(model_.get(), buffer, sizeof buffer);
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
}

}  // namespace amulet
