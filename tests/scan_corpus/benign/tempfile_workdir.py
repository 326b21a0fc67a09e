"""Sort a large input through temporary files in the work directory."""
import heapq
import os
import tempfile


def write_chunk(lines: list[str]) -> str:
    fd, path = tempfile.mkstemp(suffix=".chunk", dir=".")
    with os.fdopen(fd, "w") as handle:
        handle.writelines(sorted(lines))
    return path


def process(input_data: str) -> dict:
    lines = [line + "\n" for line in input_data.splitlines()]
    paths = [write_chunk(lines[i : i + 1000]) for i in range(0, len(lines), 1000)]
    handles = [open(p) for p in paths]
    try:
        merged = list(heapq.merge(*handles))
    finally:
        for h in handles:
            h.close()
        for p in paths:
            os.remove(p)
    with tempfile.TemporaryDirectory(dir=".") as scratch:
        out = os.path.join(scratch, "sorted.txt")
        with open(out, "w") as f:
            f.writelines(merged)
        size = os.path.getsize(out)
    return {"lines": len(merged), "bytes": size, "first": merged[0].strip() if merged else None}
