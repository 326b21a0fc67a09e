"""Parse an INI-like config with a small state machine and an Enum."""
from enum import Enum, auto


class State(Enum):
    TOP = auto()
    SECTION = auto()


class ConfigParser:
    def __init__(self) -> None:
        self.state = State.TOP
        self.sections: dict[str, dict[str, str]] = {}
        self.current = ""

    def feed(self, line: str) -> None:
        line = line.strip()
        if not line or line.startswith(";"):
            return
        if line.startswith("[") and line.endswith("]"):
            self.current = line[1:-1]
            self.sections.setdefault(self.current, {})
            self.state = State.SECTION
        elif "=" in line and self.state is State.SECTION:
            key, value = (part.strip() for part in line.split("=", 1))
            self.sections[self.current][key] = value
        else:
            raise ValueError(f"unexpected line: {line!r}")

    def execute(self, text: str) -> dict[str, dict[str, str]]:
        for line in text.splitlines():
            self.feed(line)
        return self.sections


def process(input_data: str) -> dict:
    parser = ConfigParser()
    sections = parser.execute(input_data)
    return {"sections": sections, "count": len(sections)}
