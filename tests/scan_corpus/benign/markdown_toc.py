"""Build a table of contents from Markdown headings."""
import re
import unicodedata

HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def slugify(text: str) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^\w\s-]", "", text).strip().lower()
    return re.sub(r"[-\s]+", "-", text)


def process(input_data: str) -> dict:
    toc = []
    in_code = False
    for line in input_data.splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        m = HEADING.match(line)
        if m and not in_code:
            level = len(m.group(1))
            toc.append("  " * (level - 1) + f"- [{m.group(2)}](#{slugify(m.group(2))})")
    return {"toc": "\n".join(toc), "headings": len(toc)}
