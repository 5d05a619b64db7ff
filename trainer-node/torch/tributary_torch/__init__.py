"""The trainer node's torch backend (worker.py speaks the protocol; PROTOCOL.md)."""
