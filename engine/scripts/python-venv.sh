#!/bin/sh
# The project's one Python venv: engine/.venv with torch, transformers, peft, accelerate and safetensors
# (pinned in python-requirements.txt), used by the optional parity test (test/hf-parity.test.ts), the fast
# base-model pretraining path (scripts/pretrain_torch.py via make-base-model.ts --trainer torch), the PyTorch
# reference bench (bench/torch/setup.sh reuses it) and the trainer node's torch backend (trainer-node/torch).
# Creates it once (several minutes); prints the venv's python path.
# pip retries are off: the default index is unreachable here and pip falls back to the local mirror.
set -e
cd "$(dirname "$0")/.."
PY="$(pwd)/.venv/bin/python"
if [ -x "$PY" ] && "$PY" -c "import torch, transformers, peft, accelerate, safetensors, openai" 2>/dev/null; then
  echo "$PY"; exit 0
fi
python3 -m venv .venv >&2
.venv/bin/pip install --quiet --retries 0 --timeout 10 -r scripts/python-requirements.txt >&2
"$PY" -c "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__)" >&2
echo "$PY"
