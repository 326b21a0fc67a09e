"""An asyncio pipeline of in-process stages (no network)."""
import asyncio
import math


async def produce(queue: asyncio.Queue, values: list[float]) -> None:
    for v in values:
        await queue.put(v)
    await queue.put(None)


async def consume(queue: asyncio.Queue) -> list[float]:
    out = []
    while (item := await queue.get()) is not None:
        out.append(math.sqrt(abs(item)))
    return out


async def main(values: list[float]) -> list[float]:
    queue: asyncio.Queue = asyncio.Queue(maxsize=10)
    _, result = await asyncio.gather(produce(queue, values), consume(queue))
    return result


def process(input_data: str) -> dict:
    values = [float(x) for x in input_data.split()]
    roots = asyncio.run(main(values))
    return {"roots": roots}
