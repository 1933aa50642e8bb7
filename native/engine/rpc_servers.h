// The RPC servers (llama.cpp's rpc-server, through ggml's RPC backend) that
// hold some of a model's layers. They are connected while the model loads and
// checked after every llama.cpp call that talks to them: vendor/patches/0006
// turns a failed connection into a status ggml reports instead of an abort,
// and this turns that status into an EngineError.
#pragma once

#include <string>
#include <vector>

#include "ggml-backend.h"

namespace amulet {

class RpcServers {
  public:
    RpcServers() = default;
    /**
     * Connects to each endpoint ("host:port") and collects its devices.
     * Throws ERR_RPC_UNREACHABLE or ERR_RPC_VERSION.
     */
    explicit RpcServers(std::vector<std::string> endpoints);

    bool empty() const { return endpoints_.empty(); }
    /** Every server's devices, in the order of the endpoints. */
    const std::vector<ggml_backend_dev_t> & devices() const { return devices_; }
    /**
     * Throws ERR_RPC_UNREACHABLE, ERR_RPC_VERSION or ERR_RPC_DISCONNECTED when
     * the connection to a server has failed (every request on it since then
     * has done nothing). Does not allocate unless it throws.
     */
    void check() const;

  private:
    std::vector<std::string> endpoints_;
    std::vector<ggml_backend_dev_t> devices_;
};

}  // namespace amulet
