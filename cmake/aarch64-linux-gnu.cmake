# Cross-compiles the addon for linux-arm64 on an x86-64 Linux machine with
# Debian's g++-aarch64-linux-gnu (scripts/build.mjs --arch arm64 passes this
# file as CMAKE_TOOLCHAIN_FILE). The binaries link against the cross
# toolchain's glibc and libstdc++ in /usr/aarch64-linux-gnu, which qemu-user
# is pointed at (-L) to run them here.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_STRIP aarch64-linux-gnu-strip)
set(CMAKE_FIND_ROOT_PATH /usr/aarch64-linux-gnu)
# Build tools (ccache, git) come from the host; libraries and headers from the target.
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
