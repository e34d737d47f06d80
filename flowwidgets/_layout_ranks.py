"""Ranks for :mod:`flowwidgets.layout`: the longest-path rank of every step of a DAG.

An acyclic graph is ranked by Kahn's algorithm over its steps; a graph with a cycle (a
self-dependency included) by its strongly connected components (iterative Tarjan), whose
steps share one rank. Both O(V + E).
"""

from __future__ import annotations

__all__ = ["acyclic_ranks", "cyclic_ranks"]


def acyclic_ranks(n: int, preds: list[list[int]], succs: list[list[int]]
                   ) -> list[int] | None:
    """Longest-path rank of every step (Kahn's algorithm), or None when a cycle (a
    self-dependency included) leaves steps unranked."""
    indeg = [len(p) for p in preds]
    rank = [0] * n
    queue = [i for i in range(n) if not indeg[i]]
    for c in queue:  # grows while it is read: each step is appended once, when ready
        below = rank[c] + 1
        for s in succs[c]:
            if rank[s] < below:
                rank[s] = below
            indeg[s] -= 1
            if not indeg[s]:
                queue.append(s)
    return rank if len(queue) == n else None


def cyclic_ranks(n: int, names: list[str], preds: list[list[int]], succs: list[list[int]]
                  ) -> tuple[list[int], list[int], list[bool], list[tuple[str, ...]]]:
    """Ranks of a graph with cycles: the strongly connected components (iterative Tarjan)
    ranked by longest path over the component DAG. Returns each step's rank, component
    and cyclic flag, and each cycle's steps in input order."""
    comp = _components(n, succs)
    comp_members: dict[int, list[int]] = {}
    for i in range(n):
        comp_members.setdefault(comp[i], []).append(i)
    cyclic = [False] * n
    cycles: list[tuple[str, ...]] = []
    for members in sorted(comp_members.values(), key=lambda m: m[0]):
        if len(members) > 1 or members[0] in preds[members[0]]:
            for i in members:
                cyclic[i] = True
            cycles.append(tuple(names[i] for i in sorted(members)))
    comp_preds: dict[int, set[int]] = {c: set() for c in comp_members}
    for i in range(n):
        for j in preds[i]:
            if comp[j] != comp[i]:
                comp_preds[comp[i]].add(comp[j])
    comp_succs: dict[int, list[int]] = {c: [] for c in comp_members}
    indeg = {c: len(p) for c, p in comp_preds.items()}
    for c, ps in comp_preds.items():
        for p in ps:
            comp_succs[p].append(c)
    comp_rank = dict.fromkeys(comp_members, 0)
    queue = sorted((c for c, d in indeg.items() if d == 0), key=lambda c: comp_members[c][0])
    head = 0
    while head < len(queue):
        c = queue[head]
        head += 1
        for s in comp_succs[c]:
            comp_rank[s] = max(comp_rank[s], comp_rank[c] + 1)
            indeg[s] -= 1
            if indeg[s] == 0:
                queue.append(s)
    return [comp_rank[comp[i]] for i in range(n)], comp, cyclic, cycles


def _components(n: int, succs: list[list[int]]) -> list[int]:
    """Strongly connected component id of each node (iterative Tarjan, O(V + E))."""
    index_of = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    comp = [-1] * n
    counter = 0
    n_comp = 0
    for root in range(n):
        if index_of[root] != -1:
            continue
        work: list[tuple[int, int]] = [(root, 0)]
        while work:
            v, k = work[-1]
            if k == 0:
                index_of[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack[v] = True
            if k < len(succs[v]):
                work[-1] = (v, k + 1)
                w = succs[v][k]
                if index_of[w] == -1:
                    work.append((w, 0))
                elif on_stack[w]:
                    low[v] = min(low[v], index_of[w])
                continue
            work.pop()
            if work:
                u = work[-1][0]
                low[u] = min(low[u], low[v])
            if low[v] == index_of[v]:
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    comp[w] = n_comp
                    if w == v:
                        break
                n_comp += 1
    return comp
