"""Limits every gRPC channel end agrees on: coordinator, contributor agent and consumer SDK.

Kept free of imports so that the light consumer SDK can share it with the server roles.
"""

from __future__ import annotations

# Large payloads travel as streams of about 1 MiB chunks; this ceiling leaves room for the
# inline fields (a script, a small result) and is the same on the sending and receiving end.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024

MESSAGE_SIZE_OPTIONS: tuple[tuple[str, int], ...] = (
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
)
