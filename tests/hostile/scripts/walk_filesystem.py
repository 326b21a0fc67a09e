"""List everything visible from / and look for anything that is not the runtime."""
import os


def process(input_data):
    seen = []
    for top in ("/",):
        for root, dirs, files in os.walk(top):
            if root.startswith(("/proc", "/usr/local/runsurge-python", "/usr/lib", "/dev")):
                dirs[:] = []
                continue
            for name in files:
                seen.append(os.path.join(root, name))
    return {"top": sorted(os.listdir("/")), "files": sorted(seen)}
