// The ggml devices a model's layers can live on: the CPU, this machine's GPUs
// and the devices of RPC servers.
#pragma once

#include <vector>

#include "ggml-backend.h"

namespace amulet {

/** This machine's GPUs, as llama.cpp picks them by default: the discrete ones, else the integrated ones. */
std::vector<ggml_backend_dev_t> local_gpus();

/** Whether a device is a remote one, served by ggml's RPC backend. */
bool is_rpc_device(ggml_backend_dev_t device);

/** "cpu", "gpu" (a local one) or "rpc". */
const char * device_kind(ggml_backend_dev_t device);

}  // namespace amulet
