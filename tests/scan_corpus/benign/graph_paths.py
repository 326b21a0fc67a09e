"""Shortest paths on a weighted edge list (Dijkstra)."""
import heapq
import json
from collections import defaultdict


def dijkstra(edges: list[tuple[str, str, float]], source: str) -> dict[str, float]:
    graph: defaultdict[str, list[tuple[str, float]]] = defaultdict(list)
    for a, b, w in edges:
        graph[a].append((b, w))
        graph[b].append((a, w))
    dist = {source: 0.0}
    queue = [(0.0, source)]
    while queue:
        d, node = heapq.heappop(queue)
        if d > dist.get(node, float("inf")):
            continue
        for nxt, w in graph[node]:
            nd = d + w
            if nd < dist.get(nxt, float("inf")):
                dist[nxt] = nd
                heapq.heappush(queue, (nd, nxt))
    return dist


def process(input_data: str) -> dict:
    spec = json.loads(input_data)
    edges = [tuple(e) for e in spec["edges"]]
    return {"distances": dijkstra(edges, spec["source"])}
