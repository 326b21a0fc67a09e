"""Write intermediate results to relative files in the work dir and read them back."""
import json
import os
from pathlib import Path


def process(input_data: str) -> dict:
    out_dir = Path("out")
    out_dir.mkdir(exist_ok=True)
    parts = input_data.split()
    for i, part in enumerate(parts):
        (out_dir / f"part-{i}.json").write_text(json.dumps({"value": part}))
    loaded = []
    for name in sorted(os.listdir(out_dir)):
        with open(os.path.join("out", name), encoding="utf-8") as handle:
            loaded.append(json.load(handle)["value"])
    with open("data.txt", "w") as f:
        f.write("\n".join(loaded))
    report = Path("out/report.txt")
    report.parent.mkdir(exist_ok=True)
    report.write_text(f"{len(loaded)} parts")
    return {"parts": loaded, "size": os.path.getsize("data.txt"), "cwd_name": Path.cwd().name}
