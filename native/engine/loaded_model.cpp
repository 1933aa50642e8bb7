#include "engine/loaded_model.h"

#include <algorithm>
#include <fstream>

#include "engine/devices.h"
#include "engine/engine_error.h"
#include "engine/llama_log.h"
#include "engine/test_hooks.h"

namespace amulet {

namespace {

bool forward_progress(float progress, void * user_data) {
    const auto * callback = static_cast<const std::function<bool(float)> *>(user_data);
    return (*callback)(progress);
}

/**
 * The devices layers are offloaded to, in llama.cpp's own order: the RPC
 * servers first (fewer transfers), then the local GPUs. Empty leaves the
 * choice to llama.cpp, which is what a model without RPC servers or a
 * tensor split gets.
 */
std::vector<ggml_backend_dev_t> offload_devices(const RpcServers & rpc, bool explicit_split) {
    if (rpc.empty() && !explicit_split) return {};
    std::vector<ggml_backend_dev_t> devices = rpc.devices();
    for (ggml_backend_dev_t gpu : local_gpus()) devices.push_back(gpu);
    return devices;
}

}  // namespace

LoadedModel::LoadedModel(ModelHandle model, const std::string & chat_template_option, RpcServers rpc,
                         const std::vector<ggml_backend_dev_t> & devices)
    : model_(std::move(model)), chat_template_(model_.get(), chat_template_option), rpc_(std::move(rpc)) {
    // The CPU (which always holds the input embeddings), the devices the model
    // was given, then any device llama.cpp chose itself.
    std::vector<ggml_backend_dev_t> order{ggml_backend_dev_by_type(GGML_BACKEND_DEVICE_TYPE_CPU)};
    order.insert(order.end(), devices.begin(), devices.end());
    const int32_t layers = n_layer();
    for (int32_t il = 0; il <= layers; ++il) {
        ggml_backend_dev_t device = llama_model_layer_device(model_.get(), il);
        if (std::find(order.begin(), order.end(), device) == order.end()) order.push_back(device);
    }
    for (ggml_backend_dev_t device : order) {
        const bool offloaded = device != order.front();
        DevicePlacement place{ggml_backend_dev_name(device), ggml_backend_dev_description(device), device_kind(device)};
        size_t free = 0;
        size_t total = 0;
        ggml_backend_dev_memory(device, &free, &total);
        place.memory_free = free;
        place.memory_total = total;
        for (int32_t il = 0; il <= layers; ++il) {
            if (llama_model_layer_device(model_.get(), il) != device) continue;
            if (il == layers) {
                place.output = true;
                const std::string kind = place.kind;
                logits_on_ = kind == "rpc" ? LogitsOn::Rpc : kind == "gpu" ? LogitsOn::Gpu : LogitsOn::Cpu;
                continue;
            }
            if (place.first_layer < 0) place.first_layer = il;
            place.last_layer = il;
            if (offloaded) ++offloaded_layers_;
        }
        placement_.push_back(std::move(place));
    }
}

std::shared_ptr<LoadedModel> LoadedModel::load(const ModelLoadOptions & options) {
    init_llama_backend();
    if (!std::ifstream(options.path, std::ios::binary).good()) {
        throw EngineError(error_code::kModelLoad, "cannot open model file: " + options.path);
    }
    take_llama_log_errors();
    RpcServers rpc(options.rpc_servers);
    const std::vector<ggml_backend_dev_t> devices = offload_devices(rpc, !options.tensor_split.empty());
    // llama.cpp quietly keeps every layer on the CPU when it has nowhere to
    // offload them; asking for layers there is the caller's mistake, not a
    // request to ignore.
    if (options.gpu_layers > 0 && rpc.empty() && local_gpus().empty()) {
        throw EngineError(error_code::kInvalidOption,
                          "gpuLayers > 0 needs a GPU or RPC servers: this build of amulet-llm has no GPU backend, "
                          "or it found no GPU");
    }
    if (devices.size() > llama_max_devices()) {
        throw EngineError(error_code::kInvalidOption, "the model would have " + std::to_string(devices.size()) +
                                                          " offload devices; llama.cpp takes at most " +
                                                          std::to_string(llama_max_devices()));
    }
    std::vector<float> split(llama_max_devices(), 0.0f);
    if (!options.tensor_split.empty()) {
        if (options.tensor_split.size() != devices.size()) {
            std::string names;
            for (ggml_backend_dev_t device : devices) {
                names += (names.empty() ? "" : ", ") + std::string(ggml_backend_dev_name(device)) + " (" +
                         ggml_backend_dev_description(device) + ")";
            }
            throw EngineError(error_code::kInvalidOption,
                              "tensorSplit has " + std::to_string(options.tensor_split.size()) +
                                  " shares, but the model has " + std::to_string(devices.size()) +
                                  " offload devices: " + (names.empty() ? "none" : names));
        }
        std::copy(options.tensor_split.begin(), options.tensor_split.end(), split.begin());
    }
    std::vector<ggml_backend_dev_t> device_list = devices;
    device_list.push_back(nullptr);

    llama_model_params params = llama_model_default_params();
    params.n_gpu_layers = options.gpu_layers;
    if (!devices.empty()) params.devices = device_list.data();
    if (!options.tensor_split.empty()) params.tensor_split = split.data();
    if (!options.use_mmap) params.load_mode = LLAMA_LOAD_MODE_NONE;
#if defined(AMULET_TEST_HOOKS)
    if (test_hooks::plain_cpu_weights()) params.use_extra_bufts = false;
#endif
    bool cancelled = false;
    const std::function<bool(float)> progress = [&](float fraction) {
        cancelled = options.on_progress && !options.on_progress(fraction);
        return !cancelled;
    };
    params.progress_callback = forward_progress;
    params.progress_callback_user_data = const_cast<std::function<bool(float)> *>(&progress);

    ModelHandle model(llama_model_load_from_file(options.path.c_str(), params));
    // A server lost while the weights were sent explains a failed load, and spoils a successful one.
    rpc.check();
    if (!model) {
        if (cancelled) throw EngineError(error_code::kAborted, "model loading was aborted");
        const std::string why = take_llama_log_errors();
        throw EngineError(error_code::kModelLoad,
                          "failed to load model " + options.path + (why.empty() ? "" : ": " + why));
    }
    if (llama_model_has_encoder(model.get()) && !llama_model_has_decoder(model.get())) {
        throw EngineError(error_code::kModelLoad, "the model is encoder-only and cannot generate text: " + options.path);
    }
    return std::make_shared<LoadedModel>(std::move(model), options.chat_template, std::move(rpc), devices);
}

ErrorInfo describe_failure(const LoadedModel & model) {
    ErrorInfo error = describe_current_exception();
    if (error.code == error_code::kAborted) return error;
    try {
        model.check_remote();
    } catch (...) {
        return describe_current_exception();
    }
    return error;
}

std::string LoadedModel::description() const {
    char buffer[256];
    const int32_t n = llama_model_desc(model_.get(), buffer, sizeof buffer);
    return n > 0 ? std::string(buffer, static_cast<size_t>(n)) : std::string();
}

}  // namespace amulet
