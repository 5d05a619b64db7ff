"""The trainer node's torch worker: JSON lines over stdio, protocol 2 (PROTOCOL.md).

    python worker.py               hello, then commands from stdin (train, attribute, evaluate, generate, encode, inspect, stop,
                                   cancel) until stdin closes
    python worker.py --job FILE    hello, then the train message in FILE (how torchrun starts every process)
    torchrun --nproc_per_node N worker.py --job FILE     DDP over N processes; rank 0 speaks the protocol

stdout carries protocol messages only (everything libraries print goes to stderr). The worker exits when the
process that started it is gone (TRIBUTARY_WORKER_PARENT, default the parent pid), so a node killed with -9
leaves no orphan training: its checkpoints are what remains, and the next run resumes from the newest.
"""
import json
import os
import platform
import queue
import signal
import sys
import threading
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

PROTOCOL = 2
COMMANDS = ("train", "attribute", "evaluate", "generate", "encode", "inspect", "stop", "cancel")
_out = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)  # C extensions and print() write to stderr from here on
sys.stdout = sys.stderr
_rank = int(os.environ.get("RANK", "0"))
_lock = threading.Lock()


def emit(msg):
    if _rank != 0:
        return
    with _lock:
        _out.write(json.dumps(msg, allow_nan=False) + "\n")
        _out.flush()


def watch_parent():
    pid = int(os.environ.get("TRIBUTARY_WORKER_PARENT", os.getppid()))

    def loop():
        while True:
            time.sleep(0.5)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(3)
            except PermissionError:
                pass
            if os.getppid() == 1 and pid != 1:
                os._exit(3)

    threading.Thread(target=loop, daemon=True).start()


def hello():
    import torch
    import transformers
    import peft

    devices = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            devices.append({"type": "cuda", "index": i, "name": p.name, "memory": p.total_memory, "bf16": torch.cuda.is_bf16_supported()})
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else None
    devices.append({"type": "cpu", "name": cpu, "memory": memory, "threads": torch.get_num_threads()})
    return {"type": "hello", "protocol": PROTOCOL, "worker": "tributary-torch",
            "versions": {"python": platform.python_version(), "torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__},
            "commands": list(COMMANDS), "devices": devices, "memory": memory, "world_size": int(os.environ.get("WORLD_SIZE", "1"))}


def error_message(e):
    """(message, transient): a retry may help with I/O and communication failures, not with a bad job."""
    import torch
    from tributary_torch.checkpoint import CheckpointMismatch
    from tributary_torch.attribution import AttributionStopped
    from tributary_torch.data import DataError
    from tributary_torch.train import SpecError

    if isinstance(e, (SpecError, DataError, CheckpointMismatch)):
        return str(e), False
    if isinstance(e, AttributionStopped):
        return str(e), True
    if isinstance(e, torch.cuda.OutOfMemoryError):
        return f"out of GPU memory ({str(e).splitlines()[0]}); lower batchSize, raise gradientAccumulation, turn on gradient checkpointing or use qlora", False
    transient = isinstance(e, (OSError, TimeoutError, ConnectionError)) or type(e).__module__.startswith("torch.distributed")
    return f"{type(e).__name__}: {e}", transient


def do(msg, stop):
    from tributary_torch import train
    from tributary_torch.data import RecordEncoder, read_records

    kind = msg.get("type")
    if kind == "train":
        missing = [k for k in ("spec", "model_dir", "train_file", "out_dir") if k not in msg]
        if missing:
            raise train.SpecError(f"train message lacks {', '.join(missing)}")
        dist = train.Dist()
        try:
            return train.run(msg, emit, stop, dist)
        finally:
            dist.close()
    if kind == "attribute":
        from tributary_torch import attribution

        return attribution.run(msg, emit, stop)
    if kind == "evaluate":
        from tributary_torch import evaluate

        return evaluate.run(msg, emit, stop)
    if kind == "generate":
        from tributary_torch import generate

        return generate.run(msg, emit, stop)
    if kind == "inspect":
        from tributary_torch.inspect_model import inspect

        return inspect(msg["model_dir"])
    if kind == "encode":
        enc = RecordEncoder(msg["model_dir"])
        return {"type": "encoded", "examples": [dict(zip(("ids", "train"), enc.encode_record(r))) for r in read_records(msg["data_file"])]}
    raise train.SpecError(f"unknown message type {kind!r}; this worker speaks protocol {PROTOCOL} ({', '.join(COMMANDS)})")


class Stops:
    """Which commands a stop applies to: a `stop` (or `cancel`) line stops the running command and those sent
    before it, never a later one; SIGTERM/SIGINT and a closed stdin stop everything."""

    def __init__(self):
        self.everything = threading.Event()
        self.sent = 0  # commands read so far
        self.stopped_up_to = 0

    def command(self):
        self.sent += 1
        return self.sent

    def stop_sent(self):
        self.stopped_up_to = self.sent

    def of(self, n):
        stops = self

        class Stop:
            def is_set(self):
                return stops.everything.is_set() or stops.stopped_up_to >= n

            def set(self):
                stops.everything.set()

        return Stop()


def main():
    watch_parent()
    stops = Stops()
    signal.signal(signal.SIGTERM, lambda *_: stops.everything.set())
    signal.signal(signal.SIGINT, lambda *_: stops.everything.set())
    try:
        emit(hello())
    except Exception as e:  # an env without torch: say so in the protocol
        emit({"type": "error", "message": f"the worker's Python env is incomplete: {e}", "transient": False})
        return 2
    commands = queue.Queue()
    if len(sys.argv) == 3 and sys.argv[1] == "--job":
        with open(sys.argv[2]) as f:
            commands.put((stops.command(), json.load(f)))
        commands.put(None)
    elif len(sys.argv) == 1:
        def read():
            for line in sys.stdin:
                if not line.strip():
                    continue
                try:
                    m = json.loads(line)
                except json.JSONDecodeError:
                    emit({"type": "error", "message": f"not a JSON line: {line[:80]!r}", "transient": False})
                    continue
                if m.get("type") in ("stop", "cancel"):
                    stops.stop_sent()
                else:
                    commands.put((stops.command(), m))
            stops.everything.set()  # stdin closed: nobody will read the results; stop at the next step (checkpoint kept)
            commands.put(None)

        threading.Thread(target=read, daemon=True).start()
    else:
        print(__doc__, file=sys.stderr)
        return 2
    status = 0
    while True:
        item = commands.get()
        if item is None:
            return status
        n, msg = item
        try:
            emit(do(msg, stops.of(n)))
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            message, transient = error_message(e)
            emit({"type": "error", "message": message, "transient": transient})
            status = 1


if __name__ == "__main__":
    sys.exit(main())
