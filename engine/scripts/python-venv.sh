#!/bin/sh
# Creates engine/.venv with torch, transformers, peft and safetensors for the optional parity test
# (test/hf-parity.test.ts). Takes several minutes; the test skips with a message where this venv is absent.
set -e
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --quiet torch transformers peft safetensors
.venv/bin/python -c "import torch, transformers, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'peft', peft.__version__)"
