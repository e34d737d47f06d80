"""flowwidgets.layout: longest-path rank, stacking, no overlaps, determinism, memoisation,
bad graphs reported not crashed, and speed on 5,000 steps."""

from __future__ import annotations

import random
import time

import pytest

from flowwidgets.layout import (
    MARGIN,
    NODE_HEIGHT,
    NODE_WIDTH,
    RANK_GAP,
    ROW_GAP,
    edge_path,
    layout,
)
from flowwidgets.models import Status, Step


def random_dag(n: int, seed: int = 7, max_deps: int = 3) -> list[tuple[str, tuple[str, ...]]]:
    rng = random.Random(seed)
    steps = []
    for i in range(n):
        k = min(i, rng.randint(0, max_deps))
        deps = tuple(f"s{j}" for j in rng.sample(range(i), k)) if k else ()
        steps.append((f"s{i}", deps))
    return steps


def check_geometry(steps, lay) -> None:
    by_name = {n.name: n for n in lay.nodes}
    assert len(by_name) == len({name for name, _ in steps})
    for name, deps in steps:
        node = by_name[name]
        for d in deps:
            if d in by_name:
                dep = by_name[d]
                assert dep.x + dep.width < node.x, f"{name} is not right of its dependency {d}"
                assert node.rank > dep.rank
        if deps and all(d in by_name for d in deps):
            # longest path: exactly one more than the deepest dependency
            assert node.rank == 1 + max(by_name[d].rank for d in deps)
        elif not deps:
            assert node.rank == 0
    # siblings of one rank share x and are stacked without overlap
    columns: dict[int, list] = {}
    for n in lay.nodes:
        columns.setdefault(n.rank, []).append(n)
        assert 0 <= n.x and n.x + n.width <= lay.width
        assert 0 <= n.y and n.y + n.height <= lay.height
    for col in columns.values():
        assert len({n.x for n in col}) == 1
        ys = sorted(n.y for n in col)
        assert all(b - a >= NODE_HEIGHT + ROW_GAP - 1e-6 for a, b in zip(ys, ys[1:], strict=False))
        assert sorted(n.order for n in col) == list(range(len(col)))


def test_a_diamond():
    steps = [("fetch", ()), ("dedupe", ("fetch",)), ("enrich", ("fetch",)),
             ("load", ("dedupe", "enrich"))]
    lay = layout(steps)
    check_geometry(steps, lay)
    assert [n.rank for n in lay.nodes] == [0, 1, 1, 2]
    assert lay.node("dedupe").x == lay.node("enrich").x == MARGIN + NODE_WIDTH + RANK_GAP
    assert lay.node("dedupe").y < lay.node("enrich").y
    assert lay.ranks == 3
    assert lay.width == 2 * MARGIN + 3 * NODE_WIDTH + 2 * RANK_GAP
    assert lay.height == 2 * MARGIN + 2 * NODE_HEIGHT + ROW_GAP
    # single nodes are centred in their column
    assert lay.node("fetch").y + NODE_HEIGHT / 2 == pytest.approx(lay.height / 2)
    assert len(lay.edges) == 4 and not lay.problems
    e = next(e for e in lay.edges if (e.source, e.target) == ("fetch", "dedupe"))
    assert e.points[0] == lay.node("fetch").right and e.points[-1] == lay.node("dedupe").left
    assert e.path.startswith("M ") and " C " in e.path


def test_longest_path_not_shortest():
    # c depends on a directly and through b: it must sit right of b
    lay = layout([("a", ()), ("b", ("a",)), ("c", ("a", "b"))])
    assert [n.rank for n in lay.nodes] == [0, 1, 2]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_dags_keep_every_property(seed):
    steps = random_dag(300, seed)
    check_geometry(steps, layout(steps))


def test_siblings_follow_their_parents_order():
    # children of the top parent are placed above children of the bottom parent
    steps = [("p1", ()), ("p2", ()), ("c2", ("p2",)), ("c1", ("p1",))]
    lay = layout(steps)
    assert lay.node("p1").y < lay.node("p2").y
    assert lay.node("c1").y < lay.node("c2").y


def test_deterministic_and_memoised_on_shape():
    steps = random_dag(200, 5)
    a = layout(steps)
    b = layout([(name, list(deps)) for name, deps in steps])  # same shape, other containers
    assert a is b, "an equal shape returns the cached layout"
    from flowwidgets.layout import _layout

    fresh = _layout.__wrapped__(tuple((n, tuple(d)) for n, d in steps))
    assert fresh == a and fresh.to_dict() == a.to_dict()
    other = layout(steps[:-1])
    assert other is not a


def test_accepts_step_models():
    steps = (Step("a", Status.SUCCEEDED), Step("b", Status.FAILED, depends_on=("a",)))
    lay = layout(steps)
    assert lay.node("b").rank == 1
    with pytest.raises(TypeError, match="pairs"):
        layout([42])


def test_unknown_dependencies_cycles_and_duplicates_are_reported():
    steps = [("a", ()), ("b", ("a", "ghost")), ("x", ("y",)), ("y", ("x",)), ("self", ("self",)),
             ("after", ("y",)), ("a", ("b",))]
    lay = layout(steps)
    assert lay.unknown == (("b", "ghost"),)
    assert set(lay.cycles) == {("x", "y"), ("self",)}
    assert lay.duplicates == ("a",)
    assert lay.node("x").rank == lay.node("y").rank and lay.node("x").cyclic
    assert lay.node("after").rank > lay.node("y").rank
    assert not lay.node("a").cyclic and lay.node("b").rank == 1
    cyc = [e for e in lay.edges if e.cyclic]
    assert {(e.source, e.target) for e in cyc} == {("x", "y"), ("y", "x"), ("self", "self")}
    assert len(lay.problems) == 4 and any("ghost" in p for p in lay.problems)
    d = lay.to_dict()
    assert d["unknown"] == [["b", "ghost"]] and ["self"] in d["cycles"]
    # cyclic edges stay inside the drawing
    for e in cyc:
        assert all(0 <= x <= lay.width for x, _ in e.points)


def test_empty_graph():
    lay = layout([])
    assert lay.nodes == () and lay.edges == () and lay.ranks == 0
    assert lay.width == lay.height == 2 * MARGIN


def test_edge_path_matches_the_js_helper():
    # js/test/dag.test.ts asserts the same strings for edgePath
    assert edge_path([(0, 0), (10, 0), (10, 20), (20, 20)]) == "M 0 0 C 10 0, 10 20, 20 20"
    assert edge_path([(0.25, 1), (5, 6)]) == "M 0.3 1 L 5 6"
    assert edge_path([(1.05, -0.25), (2, 3), (4, 5)]) == "M 1.1 -0.3 L 2 3 L 4 5"
    assert edge_path([]) == ""


def test_layout_of_thousands_of_steps_stays_cheap():
    """A guard against a quadratic layout coming back, in CPU time (not wall time, which a
    loaded machine stretches): 1,000 and 5,000 steps take ~10 and ~130 ms here; figures
    live in bench/."""
    from flowwidgets.layout import _layout

    took = {}
    for n in (1000, 5000):
        steps = random_dag(n, 11)
        shape = tuple((name, deps) for name, deps in steps)
        best = float("inf")
        for _ in range(2):
            started = time.process_time()
            lay = _layout.__wrapped__(shape)
            best = min(best, time.process_time() - started)
        took[n] = max(best, 1e-3)
        assert len(lay.nodes) == n
        check_geometry(steps, lay)
    assert took[1000] < 0.5 and took[5000] < 2.0, took


@pytest.mark.parametrize("seed", [3, 11])
def test_acyclic_ranks_equal_the_component_ranks(seed):
    """Acyclic graphs take Kahn's algorithm over the steps; the general path (strongly
    connected components, then Kahn over them) must give the same ranks, and a
    self-dependency or a cycle must send the graph to the general path."""
    from flowwidgets._layout_ranks import acyclic_ranks, cyclic_ranks

    rng = random.Random(seed)
    for _ in range(200):
        steps = random_dag(rng.randint(1, 80), seed=rng.randrange(10**6), max_deps=4)
        names = [name for name, _ in steps]
        preds = [[names.index(d) for d in dict.fromkeys(deps)] for _, deps in steps]
        succs: list[list[int]] = [[] for _ in names]
        for i, ps in enumerate(preds):
            for j in ps:
                succs[j].append(i)
        fast = acyclic_ranks(len(names), preds, succs)
        general, _, cyclic, cycles = cyclic_ranks(len(names), names, preds, succs)
        assert fast == general and not any(cyclic) and not cycles
    assert acyclic_ranks(2, [[], [1]], [[], [1]]) is None  # b depends on itself
    assert acyclic_ranks(2, [[1], [0]], [[1], [0]]) is None  # a ↔ b
