# expect: runsurge.dynamic.getattr-dangerous-name
import operator


def process(input_data: str) -> dict:
    g = operator.attrgetter("__glob" + "als__")
    return {"n": len(g(process))}
