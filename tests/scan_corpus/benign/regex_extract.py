"""Extract emails, URLs and dates from free text."""
import re
from urllib.parse import urlparse

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
URL = re.compile(r"https?://[^\s)]+")
DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")


def process(input_data: str) -> dict:
    urls = URL.findall(input_data)
    hosts = sorted({urlparse(u).netloc for u in urls})
    dates = ["-".join(m) for m in DATE.findall(input_data)]
    return {
        "emails": sorted(set(EMAIL.findall(input_data))),
        "hosts": hosts,
        "dates": dates,
        "redacted": EMAIL.sub("<email>", input_data)[:200],
    }
