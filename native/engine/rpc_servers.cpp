#include "engine/rpc_servers.h"

#include "engine/engine_error.h"
#include "ggml-rpc.h"

namespace amulet {

namespace {

void check_endpoint(const std::string & endpoint) {
    switch (ggml_backend_rpc_get_status(endpoint.c_str())) {
        case GGML_BACKEND_RPC_STATUS_OK: return;
        case GGML_BACKEND_RPC_STATUS_UNREACHABLE:
            throw EngineError(error_code::kRpcUnreachable,
                              "cannot reach the RPC server at " + endpoint +
                                  ": nothing accepts connections there, or it did not answer the handshake within 10 s "
                                  "(a worker serves one client at a time)");
        case GGML_BACKEND_RPC_STATUS_VERSION:
            throw EngineError(error_code::kRpcVersion,
                              "the RPC server at " + endpoint + " speaks another protocol version than this build (" +
                                  std::to_string(RPC_PROTO_MAJOR_VERSION) + "." +
                                  std::to_string(RPC_PROTO_MINOR_VERSION) + "." +
                                  std::to_string(RPC_PROTO_PATCH_VERSION) +
                                  "): run the rpc-server of the same amulet-llm version (npx amulet rpc-server)");
        case GGML_BACKEND_RPC_STATUS_DISCONNECTED:
            throw EngineError(error_code::kRpcDisconnected,
                              "lost the connection to the RPC server at " + endpoint +
                                  ": dispose the model, and load it again once the server is back");
    }
}

}  // namespace

RpcServers::RpcServers(std::vector<std::string> endpoints) : endpoints_(std::move(endpoints)) {
    for (const std::string & endpoint : endpoints_) {
        // ggml registers a server once per process and keeps it: the memory
        // query is what (re)connects, and finds out whether the server is there.
        size_t free = 0;
        size_t total = 0;
        ggml_backend_rpc_get_device_memory(endpoint.c_str(), 0, &free, &total);
        check_endpoint(endpoint);
        ggml_backend_reg_t reg = ggml_backend_rpc_add_server(endpoint.c_str());
        check_endpoint(endpoint);
        if (reg == nullptr) {
            throw EngineError(error_code::kRpcUnreachable, "the RPC server at " + endpoint + " offers no device");
        }
        for (size_t i = 0; i < ggml_backend_reg_dev_count(reg); ++i) devices_.push_back(ggml_backend_reg_dev_get(reg, i));
    }
}

void RpcServers::check() const {
    for (const std::string & endpoint : endpoints_) check_endpoint(endpoint);
}

}  // namespace amulet
