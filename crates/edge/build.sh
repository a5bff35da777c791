#!/bin/sh
# Builds the worker for wrangler. Uses the locally installed wasm-bindgen and the npm esbuild,
# so nothing is downloaded. Set TIDINGS_PREBUILT=1 to reuse an existing build/ (test harness).
set -e
if [ "${TIDINGS_PREBUILT:-}" = "1" ] && [ -f build/worker/shim.mjs ]; then
  exit 0
fi
ROOT=$(cd ../.. && pwd)
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$HOME/.cargo/bin/wasm-bindgen}"
if [ -x "$ROOT/node_modules/@esbuild/linux-x64/bin/esbuild" ]; then
  export ESBUILD_BIN="${ESBUILD_BIN:-$ROOT/node_modules/@esbuild/linux-x64/bin/esbuild}"
fi
exec worker-build --release
