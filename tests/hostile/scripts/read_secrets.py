"""Try to read host secrets: /etc/shadow, /root, the agent's token and data dir, the canary."""
import json
import os


def attempt(action):
    try:
        value = action()
    except OSError as exc:
        return "denied:" + type(exc).__name__
    return "READ:" + repr(value)[:200]


def process(input_data):
    paths = json.loads(input_data)
    report = {
        "/etc/shadow": attempt(lambda: open("/etc/shadow").read()),
        "/etc/passwd": attempt(lambda: open("/etc/passwd").read()),
        "/root": attempt(lambda: os.listdir("/root")),
        "/home": attempt(lambda: os.listdir("/home")),
        "token": attempt(lambda: open(paths["token_file"]).read()),
        "agent_dir": attempt(lambda: os.listdir(paths["agent_dir"])),
        "canary": attempt(lambda: open(paths["canary"]).read()),
        "canary_dir": attempt(lambda: os.listdir(os.path.dirname(paths["canary"]))),
    }
    return report
