# expect: runsurge.network.socket
def process(input_data: str) -> dict:
    def connect():
        from socket import create_connection as cc
        return cc(("10.0.0.1", 80))
    return {"ok": bool(connect())}
