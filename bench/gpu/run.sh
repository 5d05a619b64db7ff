#!/bin/sh
# The GPU benchmark of the trainer node's torch backend, in one command (bench/gpu/bench_gpu.py says what it
# measures): builds the project's Python env when missing (engine/scripts/python-venv.sh; on a CUDA machine pip's
# torch wheel is the CUDA build) and writes bench/results/gpu.json. Needs a CUDA device with >= 24 GB.
set -e
cd "$(dirname "$0")/../.."
PY="$(sh engine/scripts/python-venv.sh)"
exec "$PY" bench/gpu/bench_gpu.py
