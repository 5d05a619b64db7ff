#!/bin/sh
# The GPU benchmark of the trainer node's torch backend, in one command (bench/gpu/bench_gpu.py says what it
# measures); writes bench/results/gpu.json, or the file given with --out. Needs a CUDA device with >= 24 GB.
#
#   sh bench/gpu/run.sh [--out FILE]
#
# The Python it runs with, the first that has torch with CUDA, transformers and peft:
#   1. TRIBUTARY_PYTHON;
#   2. the project's env engine/.venv (pinned: engine/scripts/python-requirements.txt), when it sees a GPU;
#   3. the machine's python3 (GPU images ship torch, transformers and peft; the versions are recorded in the
#      result next to the pinned ones, so a run on other versions says so);
#   4. else the project's env is built (engine/scripts/python-venv.sh; pip's torch wheel for Linux is the CUDA
#      build; this needs the package index).
set -e
cd "$(dirname "$0")/../.."
ok() { [ -x "$(command -v "$1" 2>/dev/null || echo "$1")" ] && "$1" -c "import torch, transformers, peft, safetensors; assert torch.cuda.is_available()" 2>/dev/null; }
if [ -n "$TRIBUTARY_PYTHON" ]; then
  PY="$TRIBUTARY_PYTHON"
  ok "$PY" || { echo "bench/gpu: TRIBUTARY_PYTHON=$PY lacks torch with CUDA, transformers, peft or safetensors, or sees no GPU" >&2; exit 2; }
elif ok engine/.venv/bin/python; then
  PY=engine/.venv/bin/python
elif ok python3; then
  PY=python3
else
  if ! command -v nvidia-smi >/dev/null 2>&1; then
    echo "bench/gpu needs a CUDA device; this machine has none (nvidia-smi is missing). The CPU tests cover correctness." >&2
    exit 2
  fi
  PY="$(sh engine/scripts/python-venv.sh)"
fi
echo "bench/gpu: $("$PY" -c 'import sys, torch, transformers, peft; print(sys.executable, "torch", torch.__version__, "transformers", transformers.__version__, "peft", peft.__version__)')" >&2
PYTHONUNBUFFERED=1 exec "$PY" bench/gpu/bench_gpu.py "$@"
