"""Connect to a port the host is listening on (network namespace + seccomp must stop it)."""
import json
import socket


def process(input_data):
    port = json.loads(input_data)["port"]
    sock = socket.create_connection(("127.0.0.1", port), timeout=1)
    sock.sendall(b"exfiltrated")
    return {"connected": True}
