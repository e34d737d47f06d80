"""Longest-path-rank layout of a run's DAG: a pure function, memoised on the graph's shape.

Every node sits in the column of its rank (one more than its deepest dependency), so it is
right of all its dependencies; the nodes of one rank are stacked vertically, ordered by the
mean height of their dependencies (then by input order), and columns are centred. Edges are
cubic Bézier curves from a node's right side to its dependant's left side.

Bad graphs never crash the layout: a dependency on a step that does not exist is ignored and
reported in ``Layout.unknown``; the steps of a dependency cycle share one rank (reported in
``Layout.cycles``, their edges flagged ``cyclic``); a repeated step name keeps its first
occurrence (reported in ``Layout.duplicates``). Runs in O(V + E) plus a sort per rank: an
acyclic graph is ranked by Kahn's algorithm over its steps alone, and only a graph with a
cycle pays for the strongly connected components.

Because the result depends only on the graph's shape, it is cached: a status poll of the
same run gets the very same ``Layout`` object back and only restyles nodes.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from flowwidgets._layout_ranks import acyclic_ranks, cyclic_ranks

__all__ = [
    "EDGE_LOOP",
    "MARGIN",
    "NODE_HEIGHT",
    "NODE_WIDTH",
    "RANK_GAP",
    "ROW_GAP",
    "Layout",
    "LayoutEdge",
    "LayoutNode",
    "layout",
]

NODE_WIDTH = 176.0
"""Width of a step box (fits about 21 monospace characters at 12 px)."""
NODE_HEIGHT = 48.0
"""Height of a step box: name line and status line."""
RANK_GAP = 56.0
"""Horizontal space between two rank columns, where the edges run."""
ROW_GAP = 14.0
"""Vertical space between siblings of one rank."""
MARGIN = 12.0
"""Space around the whole drawing."""
EDGE_LOOP = 28.0
"""How far a cyclic edge bulges out to the right of its column."""

_CACHE_SIZE = 128

Point = tuple[float, float]


@dataclass(frozen=True, slots=True)
class LayoutNode:
    """A step's box: its rank (column), order within the rank (row) and geometry."""

    name: str
    rank: int
    order: int
    x: float
    y: float
    width: float = NODE_WIDTH
    height: float = NODE_HEIGHT
    cyclic: bool = False
    """True when the step is part of a dependency cycle."""

    @property
    def left(self) -> Point:
        """The middle of the box's left side, where edges arrive."""
        return (self.x, self.y + self.height / 2)

    @property
    def right(self) -> Point:
        """The middle of the box's right side, where edges leave."""
        return (self.x + self.width, self.y + self.height / 2)


@dataclass(frozen=True, slots=True)
class LayoutEdge:
    """A dependency drawn from ``source`` (the dependency) to ``target`` (the dependant)."""

    source: str
    target: str
    points: tuple[Point, ...]
    """Start, two Bézier control points, end."""
    cyclic: bool = False

    @property
    def path(self) -> str:
        """SVG path data (the same string the JS ``edgePath`` builds)."""
        return edge_path(self.points)


@dataclass(frozen=True, slots=True)
class Layout:
    """Positions for every step and edge, the drawing's size, and what was wrong with the graph."""

    nodes: tuple[LayoutNode, ...]
    edges: tuple[LayoutEdge, ...]
    width: float
    height: float
    ranks: int
    unknown: tuple[tuple[str, str], ...] = ()
    """(step, dependency) pairs naming a step that does not exist."""
    cycles: tuple[tuple[str, ...], ...] = ()
    """Each dependency cycle's steps, in input order."""
    duplicates: tuple[str, ...] = ()
    """Step names listed more than once (the first one wins)."""
    _index: dict[str, LayoutNode] = field(default_factory=dict, compare=False, repr=False)

    def node(self, name: str) -> LayoutNode:
        """The box of step ``name`` (``KeyError`` if there is none)."""
        return self._index[name]

    @property
    def problems(self) -> list[str]:
        """Human-readable notes about unknown dependencies, cycles and duplicates."""
        notes = [f"{step!r} depends on unknown step {dep!r}" for step, dep in self.unknown]
        notes += ["dependency cycle: " + " → ".join(c) for c in self.cycles]
        notes += [f"step {d!r} is listed more than once" for d in self.duplicates]
        return notes

    def to_dict(self) -> dict[str, Any]:
        """JSON for the widget's ``_layout`` trait (coordinates rounded to 0.1 px)."""
        return {
            "nodes": [
                {"name": n.name, "rank": n.rank, "order": n.order, "x": _r(n.x), "y": _r(n.y),
                 "width": _r(n.width), "height": _r(n.height), "cyclic": n.cyclic}
                for n in self.nodes
            ],
            "edges": [
                {"source": e.source, "target": e.target,
                 "points": [[_r(x), _r(y)] for x, y in e.points], "cyclic": e.cyclic}
                for e in self.edges
            ],
            "width": _r(self.width),
            "height": _r(self.height),
            "unknown": [list(p) for p in self.unknown],
            "cycles": [list(c) for c in self.cycles],
            "duplicates": list(self.duplicates),
        }


def _r(v: float) -> float | int:
    v = round(v, 1)
    return int(v) if v == int(v) else v


def edge_path(points: Sequence[Point]) -> str:
    """SVG path data through ``points``: a cubic Bézier for 4 points, lines otherwise."""
    if not points:
        return ""

    def fmt(p: Point) -> str:
        return f"{_fmt(p[0])} {_fmt(p[1])}"

    first, *rest = points
    if len(rest) == 3:
        return f"M {fmt(first)} C {fmt(rest[0])}, {fmt(rest[1])}, {fmt(rest[2])}"
    return f"M {fmt(first)}" + "".join(f" L {fmt(p)}" for p in rest)


def _fmt(v: float) -> str:
    # like JS Number.prototype.toFixed(1): the exact binary value, ties away from zero
    if float(v).is_integer():
        return str(int(v))
    return str(Decimal(float(v)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


Shape = tuple[tuple[str, tuple[str, ...]], ...]


def _shape_of(steps: Iterable[Any]) -> Shape:
    out: list[tuple[str, tuple[str, ...]]] = []
    for item in steps:
        if isinstance(item, tuple | list) and len(item) == 2:
            name, deps = item
        elif hasattr(item, "name"):
            name, deps = item.name, getattr(item, "depends_on", ()) or ()
        else:
            raise TypeError(
                "layout() takes (name, depends_on) pairs or objects with .name and "
                f".depends_on, not {type(item).__name__}"
            )
        if isinstance(deps, str):
            deps = (deps,)
        out.append((str(name), tuple(str(d) for d in deps)))
    return tuple(out)


def layout(steps: Iterable[Any]) -> Layout:
    """Lay out a DAG given as ``(name, depends_on)`` pairs (or Step/StepSpec objects).

    The result is cached on the graph's shape: equal shapes return the same object.
    """
    return _layout(_shape_of(steps))


@lru_cache(maxsize=_CACHE_SIZE)
def _layout(shape: Shape) -> Layout:
    # The layout allocates a few objects per node and creates no reference cycles, so the
    # cyclic garbage collector has nothing to find here; left on, its collections scan
    # every live object of the process (a whole kernel) and made 10,000 steps cost 40%
    # more per node than 1,000 (bench/bench_layout.py).
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _layout_now(shape)
    finally:
        if enabled:
            gc.enable()


def _layout_now(shape: Shape) -> Layout:
    # 1. names, duplicates, known dependencies
    index: dict[str, int] = {}
    names: list[str] = []
    raw_deps: list[tuple[str, ...]] = []
    duplicates: list[str] = []
    for name, deps in shape:
        if name in index:
            if name not in duplicates:
                duplicates.append(name)
            continue
        index[name] = len(names)
        names.append(name)
        raw_deps.append(deps)
    n = len(names)
    preds: list[list[int]] = []
    unknown: list[tuple[str, str]] = []
    get = index.get
    for i, deps in enumerate(raw_deps):
        looked = [get(dep) for dep in deps]
        if None in looked:
            unknown.extend((names[i], dep) for dep, j in zip(deps, looked, strict=True)
                           if j is None)
        found = [j for j in looked if j is not None]
        preds.append(list(dict.fromkeys(found)) if len(found) > 1 else found)
    succs: list[list[int]] = [[] for _ in range(n)]
    for i, ps in enumerate(preds):
        for j in ps:
            succs[j].append(i)

    # 2-3. longest-path rank: Kahn's algorithm over the steps; when some are left over
    # there is a cycle, and the steps of each strongly connected component share one rank
    ranked = acyclic_ranks(n, preds, succs)
    comp: list[int] | None = None
    cycles: list[tuple[str, ...]] = []
    if ranked is not None:
        rank, cyclic = ranked, [False] * n
    else:
        rank, comp, cyclic, cycles = cyclic_ranks(n, names, preds, succs)
    ranks = (max(rank) + 1) if n else 0

    # 4. order within each rank by the mean height of the dependencies already placed
    by_rank: list[list[int]] = [[] for _ in range(ranks)]
    for i in range(n):
        by_rank[rank[i]].append(i)
    tallest = max((len(col) for col in by_rank), default=0)
    step_y = NODE_HEIGHT + ROW_GAP
    total_h = tallest * NODE_HEIGHT + max(0, tallest - 1) * ROW_GAP
    order = [0] * n
    ys = [0.0] * n
    inf = float("inf")
    for r, col in enumerate(by_rank):
        if r > 0:
            keys: dict[int, tuple[float, int]] = {}
            for i in col:
                ps = preds[i]
                if comp is not None:  # a cycle's steps share a rank: not placed yet
                    ps = [j for j in ps if rank[j] < r]
                keys[i] = (sum([ys[j] for j in ps]) / len(ps) if ps else inf, i)
            col.sort(key=keys.__getitem__)
        col_h = len(col) * NODE_HEIGHT + max(0, len(col) - 1) * ROW_GAP
        top = MARGIN + (total_h - col_h) / 2
        for k, i in enumerate(col):
            order[i] = k
            ys[i] = top + k * step_y

    xs = [MARGIN + r * (NODE_WIDTH + RANK_GAP) for r in range(ranks)]
    nodes = tuple(
        LayoutNode(name=names[i], rank=rank[i], order=order[i], x=xs[rank[i]], y=ys[i],
                   cyclic=cyclic[i])
        for i in range(n)
    )

    # 5. edges: from a dependency's right side to the dependant's left side
    half = NODE_HEIGHT / 2
    lefts = [(xs[rank[i]], ys[i] + half) for i in range(n)]
    rights = [(xs[rank[i]] + NODE_WIDTH, ys[i] + half) for i in range(n)]
    edges: list[LayoutEdge] = []
    add = edges.append
    for i, ps in enumerate(preds):
        name, end = names[i], lefts[i]
        ex, ey = end
        for j in ps:
            if comp is not None and comp[i] == comp[j]:
                add(LayoutEdge(names[j], name, _edge_points(nodes[j], nodes[i], True), True))
                continue
            start = rights[j]
            sx, sy = start
            dx = (ex - sx) / 2
            add(LayoutEdge(names[j], name, (start, (sx + dx, sy), (ex - dx, ey), end)))

    width = (2 * MARGIN + ranks * NODE_WIDTH + max(0, ranks - 1) * RANK_GAP
             + (EDGE_LOOP if cycles else 0.0)) if n else 2 * MARGIN
    height = 2 * MARGIN + total_h
    return Layout(
        nodes=nodes, edges=tuple(edges), width=width, height=height, ranks=ranks,
        unknown=tuple(unknown), cycles=tuple(cycles), duplicates=tuple(duplicates),
        _index={nd.name: nd for nd in nodes},
    )


def _edge_points(src: LayoutNode, dst: LayoutNode, cyclic: bool) -> tuple[Point, ...]:
    if not cyclic:
        (sx, sy), (ex, ey) = src.right, dst.left
        dx = (ex - sx) / 2
        return ((sx, sy), (sx + dx, sy), (ex - dx, ey), (ex, ey))
    # same column: leave and re-enter on the right side, bulging outwards
    (sx, sy), (ex, ey) = src.right, dst.right
    if src.name == dst.name:
        sy, ey = sy - NODE_HEIGHT / 4, ey + NODE_HEIGHT / 4
    return ((sx, sy), (sx + EDGE_LOOP, sy), (ex + EDGE_LOOP, ey), (ex, ey))
