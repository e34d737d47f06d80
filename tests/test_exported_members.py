"""The public surface is explicit: __all__ is sorted, complete and importable."""

import flowwidgets


def test_all_is_sorted_and_importable():
    names = [n for n in flowwidgets.__all__ if n != "__version__"]
    assert names == sorted(names, key=str.lower) or names == sorted(names)
    for name in flowwidgets.__all__:
        assert hasattr(flowwidgets, name), name


def test_public_names_from_the_design_exist():
    for name in ["Status", "Pipeline", "Run", "RunDetail", "Step", "Attempt", "Actions"]:
        assert name in flowwidgets.__all__
