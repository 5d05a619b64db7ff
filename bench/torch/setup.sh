#!/usr/bin/env bash
# Creates (once) a Python venv with torch, transformers and peft under .tools/torch-venv, for the
# PyTorch reference benchmark. Prints the venv's python path on success. Exits 3 with a clear message
# when pip cannot reach the packages (no network, no local mirror): callers treat that as "skip".
set -u
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VENV="${TORCH_VENV:-$ROOT/.tools/torch-venv}"
PY="$VENV/bin/python"
# The engine's parity test venv (engine/scripts/python-venv.sh) has the same packages: reuse it.
if [ -z "${TORCH_VENV:-}" ] && [ -x "$ROOT/engine/.venv/bin/python" ] && "$ROOT/engine/.venv/bin/python" -c "import torch, transformers, peft" 2>/dev/null; then
  echo "$ROOT/engine/.venv/bin/python"; exit 0
fi
if [ -x "$PY" ] && "$PY" -c "import torch, transformers, peft" 2>/dev/null; then
  echo "$PY"; exit 0
fi
if ! command -v python3 >/dev/null; then
  echo "torch bench skipped: python3 not found" >&2; exit 3
fi
mkdir -p "$(dirname "$VENV")"
python3 -m venv "$VENV" >&2 || { echo "torch bench skipped: python3 -m venv failed" >&2; exit 3; }
# Few retries: where the default index is unreachable pip would otherwise retry for minutes before
# falling back to a configured local mirror.
if ! "$VENV/bin/pip" install --retries 1 --timeout 20 torch transformers peft >&2; then
  rm -rf "$VENV"
  echo "torch bench skipped: pip could not install torch/transformers/peft (no index or mirror reachable)" >&2
  exit 3
fi
echo "$PY"
