#include "addon/addon_model.h"

#include <atomic>

#include "addon/addon_errors.h"
#include "addon/addon_scorer.h"
#include "addon/addon_context.h"
#include "addon/addon_state.h"
#include "addon/generation_request_parser.h"
#include "addon/promise_worker.h"
#include "engine/chat_prompt.h"
#include "engine/engine_error.h"

namespace amulet {

namespace {

// Loads on a libuv worker thread; progress reaches JS through a thread-safe
// function, at most once per whole percent.
class ModelLoadWorker : public PromiseWorker {
  public:
    ModelLoadWorker(Napi::Env env, ModelLoadOptions options, Napi::Function on_progress)
        : PromiseWorker(env, "amulet:loadModel"), options_(std::move(options)) {
        if (!on_progress.IsEmpty()) {
            progress_ = Napi::ThreadSafeFunction::New(env, on_progress, "amulet:loadProgress", 0, 1);
            options_.on_progress = [this](float fraction) {
                const int percent = static_cast<int>(fraction * 100.0f);
                if (percent != last_percent_.exchange(percent)) {
                    progress_.NonBlockingCall([fraction](Napi::Env env, Napi::Function callback) {
                        callback.Call({Napi::Number::New(env, fraction)});
                    });
                }
                return true;
            };
        }
    }
    ~ModelLoadWorker() override {
        if (progress_) progress_.Release();
    }

  protected:
    void Compute() override { model_ = LoadedModel::load(options_); }
    Napi::Value Result(Napi::Env env) override { return AddonModel::NewInstance(env, std::move(model_)); }

    void Deliver() override {
        if (!progress_) return PromiseWorker::Deliver();
        // Progress calls still queued on the thread-safe function would reach JS
        // after the promise settles: settle through the same queue, behind them.
        const napi_status queued = progress_.NonBlockingCall(
            [deferred = deferred(), model = model_, error = error()](Napi::Env env, Napi::Function) mutable {
                if (env != nullptr) Settle(env, deferred, error, [&](Napi::Env scope_env) {
                    return AddonModel::NewInstance(scope_env, std::move(model));
                });
            });
        if (queued != napi_ok) PromiseWorker::Deliver();
    }

  private:
    ModelLoadOptions options_;
    Napi::ThreadSafeFunction progress_;
    std::atomic<int> last_percent_{-1};
    std::shared_ptr<LoadedModel> model_;
};

// Renders a conversation with the model's chat template on a libuv worker thread.
class FormatChatWorker : public PromiseWorker {
  public:
    FormatChatWorker(Napi::Env env, std::shared_ptr<LoadedModel> model, std::vector<ChatMessage> messages)
        : PromiseWorker(env, "amulet:formatChat"), model_(std::move(model)), messages_(std::move(messages)) {}

  protected:
    void Compute() override { text_ = model_->chat_template().render(messages_, std::chrono::system_clock::now()); }
    Napi::Value Result(Napi::Env env) override { return Napi::String::New(env, text_); }

  private:
    std::shared_ptr<LoadedModel> model_;
    std::vector<ChatMessage> messages_;
    std::string text_;
};

}  // namespace

void AddonModel::Register(Napi::Env env, Napi::Object exports) {
    Napi::Function constructor = DefineClass(env, "AddonModel",
                                             {
                                                 InstanceMethod<&AddonModel::Info>("info"),
                                                 InstanceMethod<&AddonModel::CreateContext>("createContext"),
                                                 InstanceMethod<&AddonModel::CreateScorer>("createScorer"),
                                                 InstanceMethod<&AddonModel::FormatChat>("formatChat"),
                                                 InstanceMethod<&AddonModel::Dispose>("dispose"),
                                             });
    addon_state(env).model_constructor = Napi::Persistent(constructor);
    exports.Set("AddonModel", constructor);
}

AddonModel::AddonModel(const Napi::CallbackInfo & info) : Napi::ObjectWrap<AddonModel>(info) {}

Napi::Object AddonModel::NewInstance(Napi::Env env, std::shared_ptr<LoadedModel> model) {
    Napi::Object object = addon_state(env).model_constructor.New({});
    Unwrap(object)->model_ = std::move(model);
    return object;
}

const std::shared_ptr<LoadedModel> & AddonModel::model(Napi::Env env) const {
    if (!model_) throw make_error(env, "ERR_DISPOSED", "the model has been disposed");
    return model_;
}

Napi::Value AddonModel::Info(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    const LoadedModel & loaded = *model(env);
    Napi::Object result = Napi::Object::New(env);
    result.Set("description", loaded.description());
    const ChatTemplate & chat_template = loaded.chat_template();
    result.Set("chatTemplate", chat_template.text());
    result.Set("chatTemplateSource", chat_template_source_name(chat_template.source()));
    if (!chat_template.warning().empty()) result.Set("chatTemplateWarning", chat_template.warning());
    result.Set("vocabularySize", loaded.n_vocab());
    result.Set("trainContextSize", loaded.n_ctx_train());
    result.Set("sizeBytes", static_cast<double>(loaded.size_bytes()));
    result.Set("parameters", static_cast<double>(loaded.n_params()));
    result.Set("layerCount", loaded.n_layer());
    result.Set("offloadedLayers", loaded.offloaded_layers());
    result.Set("outputOnGpu", loaded.logits_on() == LogitsOn::Gpu);
    const std::vector<DevicePlacement> & placement = loaded.placement();
    Napi::Array devices = Napi::Array::New(env, placement.size());
    for (size_t i = 0; i < placement.size(); ++i) {
        const DevicePlacement & place = placement[i];
        Napi::Object device = Napi::Object::New(env);
        device.Set("name", place.name);
        device.Set("description", place.description);
        device.Set("kind", place.kind);
        if (place.first_layer >= 0) {
            Napi::Array layers = Napi::Array::New(env, 2);
            layers.Set(0u, place.first_layer);
            layers.Set(1u, place.last_layer);
            device.Set("layers", layers);
        } else {
            device.Set("layers", env.Null());
        }
        device.Set("output", place.output);
        Napi::Object memory = Napi::Object::New(env);
        memory.Set("free", static_cast<double>(place.memory_free));
        memory.Set("total", static_cast<double>(place.memory_total));
        device.Set("memory", memory);
        devices.Set(static_cast<uint32_t>(i), device);
    }
    result.Set("devices", devices);
    return result;
}

Napi::Value AddonModel::CreateContext(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    const std::shared_ptr<LoadedModel> & loaded = model(env);
    return AddonContext::Create(env, loaded, info[0]);
}

Napi::Value AddonModel::CreateScorer(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    const std::shared_ptr<LoadedModel> & loaded = model(env);
    return AddonScorer::Create(env, loaded, info[0]);
}

Napi::Value AddonModel::FormatChat(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    const std::shared_ptr<LoadedModel> & loaded = model(env);
    const std::string system_prompt = info[0].As<Napi::String>().Utf8Value();
    const std::vector<ChatMessage> turns = parse_turns(info[1]);
    // AsyncWorker's contract: allocated here, deleted by node-addon-api once it has completed.
    auto * worker = new FormatChatWorker(env, loaded, conversation_messages(system_prompt, turns));
    worker->Queue();
    return worker->promise();
}

void AddonModel::Dispose(const Napi::CallbackInfo & /*info*/) { model_.reset(); }

Napi::Value LoadModel(const Napi::CallbackInfo & info) {
    Napi::Env env = info.Env();
    ModelLoadOptions options;
    options.path = info[0].As<Napi::String>().Utf8Value();
    const Napi::Object settings = info[1].As<Napi::Object>();
    options.gpu_layers = settings.Get("gpuLayers").As<Napi::Number>().Int32Value();
    options.use_mmap = settings.Get("useMmap").As<Napi::Boolean>().Value();
    options.chat_template = settings.Get("chatTemplate").As<Napi::String>().Utf8Value();
    const Napi::Array servers = settings.Get("rpcServers").As<Napi::Array>();
    for (uint32_t i = 0; i < servers.Length(); ++i) {
        options.rpc_servers.push_back(servers.Get(i).As<Napi::String>().Utf8Value());
    }
    const Napi::Array split = settings.Get("tensorSplit").As<Napi::Array>();
    for (uint32_t i = 0; i < split.Length(); ++i) {
        options.tensor_split.push_back(split.Get(i).As<Napi::Number>().FloatValue());
    }
    Napi::Function on_progress = info[2].IsFunction() ? info[2].As<Napi::Function>() : Napi::Function();
    // AsyncWorker's contract: allocated here, deleted by node-addon-api once it has completed.
    auto * worker = new ModelLoadWorker(env, std::move(options), on_progress);
    worker->Queue();
    return worker->promise();
}

}  // namespace amulet
