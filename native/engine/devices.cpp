#include "engine/devices.h"

#include <cstring>

namespace amulet {

std::vector<ggml_backend_dev_t> local_gpus() {
    std::vector<ggml_backend_dev_t> discrete;
    std::vector<ggml_backend_dev_t> integrated;
    // RPC devices are never registered globally (they are passed per model), so these are all local.
    for (size_t i = 0; i < ggml_backend_dev_count(); ++i) {
        ggml_backend_dev_t device = ggml_backend_dev_get(i);
        const enum ggml_backend_dev_type type = ggml_backend_dev_type(device);
        if (type == GGML_BACKEND_DEVICE_TYPE_GPU) discrete.push_back(device);
        if (type == GGML_BACKEND_DEVICE_TYPE_IGPU) integrated.push_back(device);
    }
    return discrete.empty() ? integrated : discrete;
}

bool is_rpc_device(ggml_backend_dev_t device) {
    return std::strcmp(ggml_backend_reg_name(ggml_backend_dev_backend_reg(device)), "RPC") == 0;
}

const char * device_kind(ggml_backend_dev_t device) {
    if (is_rpc_device(device)) return "rpc";
    const enum ggml_backend_dev_type type = ggml_backend_dev_type(device);
    return type == GGML_BACKEND_DEVICE_TYPE_GPU || type == GGML_BACKEND_DEVICE_TYPE_IGPU ? "gpu" : "cpu";
}

}  // namespace amulet
