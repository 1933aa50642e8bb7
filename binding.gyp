# node-gyp entry point, for tools that only know node-gyp (node-gyp-build's
# source fallback, prebuildify). The addon is not described here twice: this
# target delegates to the real build, CMakeLists.txt driven by cmake-js
# (scripts/build.mjs), which writes build/Release/amulet.node.
{
  "targets": [
    {
      "target_name": "amulet",
      "type": "none",
      "actions": [
        {
          "action_name": "cmake_js_build",
          "inputs": ["<(module_root_dir)/CMakeLists.txt"],
          "outputs": ["<(module_root_dir)/build/Release/amulet.node"],
          "action": ["node", "<(module_root_dir)/scripts/build.mjs", "--native-only"]
        }
      ]
    }
  ]
}
