"""Summarise an Apache access log: status codes, top paths, bytes served."""
import re
from collections import Counter, defaultdict

LINE = re.compile(
    r'(?P<ip>\S+) \S+ \S+ \[(?P<ts>[^\]]+)\] "(?P<method>\S+) (?P<path>\S+) \S+" '
    r"(?P<status>\d{3}) (?P<size>\d+|-)"
)


def parse(line: str) -> dict | None:
    m = LINE.match(line)
    if not m:
        return None
    d = m.groupdict()
    d["size"] = 0 if d["size"] == "-" else int(d["size"])
    return d


def process(input_data: str) -> dict:
    statuses: Counter[str] = Counter()
    paths: Counter[str] = Counter()
    bytes_by_ip: defaultdict[str, int] = defaultdict(int)
    bad = 0
    for line in input_data.splitlines():
        rec = parse(line)
        if rec is None:
            bad += 1
            continue
        statuses[rec["status"]] += 1
        # paths such as /home or /etc/passwd are data here, not files we open
        paths[rec["path"].split("?")[0]] += 1
        bytes_by_ip[rec["ip"]] += rec["size"]
    return {
        "statuses": dict(statuses),
        "top_paths": paths.most_common(5),
        "heaviest": max(bytes_by_ip.items(), key=lambda kv: kv[1], default=None),
        "unparsed": bad,
        "admin_hits": paths.get("/admin", 0),
    }


def aggregate(results: list[dict]) -> dict:
    total: Counter[str] = Counter()
    for r in results:
        total.update(r["statuses"])
    return {"statuses": dict(total)}
