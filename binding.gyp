# node-gyp entry point, for tools that only know node-gyp (`node-gyp rebuild`,
# electron-rebuild, node-gyp-build's source fallback). The addon is not
# described here twice: this target delegates to the real build,
# CMakeLists.txt driven by cmake-js (scripts/build.mjs), which writes
# build/Release/amulet.node, where node-gyp-build looks. Node-gyp's own make
# files share build/ with cmake's; `rebuild` cleans build/ first (ccache then
# serves most of llama.cpp). Node headers: the addon is Node-API only and
# cmake-js takes them from the node-api-headers package, but node-gyp's
# configure step still wants a Node tree: offline, pass --nodedir=/usr (or
# set npm_config_nodedir).
{
  "targets": [
    {
      "target_name": "amulet",
      "type": "none",
      "actions": [
        {
          "action_name": "cmake_js_build",
          "inputs": ["<(module_root_dir)/CMakeLists.txt"],
          # The second output is never written, so make runs the action on every
          # `node-gyp build`, and cmake decides, file by file, what is out of date.
          "outputs": ["<(module_root_dir)/build/Release/amulet.node", "<(module_root_dir)/build/always-run-cmake-js"],
          "action": ["node", "<(module_root_dir)/scripts/build.mjs", "--native-only"]
        }
      ]
    }
  ]
}
