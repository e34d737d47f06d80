"""The public surface is explicit: __all__ is sorted, complete and importable."""

import flowwidgets


def test_all_is_sorted_and_importable():
    assert flowwidgets.__all__ == sorted(flowwidgets.__all__, key=lambda n: (n[0].islower(), n))
    for name in flowwidgets.__all__:
        assert hasattr(flowwidgets, name), name


def test_public_names_from_the_design_exist():
    design = [
        "connect", "runs_frame", "steps_frame", "Dashboard", "PipelineCards", "JobsTable",
        "RunView", "LocalRunner", "load_pipelines", "serve_in_thread",
        "Status", "Pipeline", "Run", "RunDetail", "Step", "Attempt", "Actions",
    ]
    missing = [n for n in design if n not in flowwidgets.__all__]
    assert not missing


def test_source_has_the_designed_methods():
    for name in ["pipelines", "runs", "run", "restart", "rerun", "resume", "run_now"]:
        assert callable(getattr(flowwidgets.Source, name)), name


def test_every_lazy_name_is_public():
    assert set(flowwidgets._LAZY) <= set(flowwidgets.__all__)
    assert "connect" in dir(flowwidgets)


def test_import_stays_light():
    import subprocess
    import sys

    code = "import sys, flowwidgets; print('pandas' in sys.modules, 'fastapi' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_plumbing_lives_in_its_package_not_at_the_top():
    import warnings

    import flowwidgets.runner
    import flowwidgets.sources

    plumbing = {"ServerHandle": flowwidgets.runner, "PipelineSpec": flowwidgets.runner,
                "StepSpec": flowwidgets.runner, "Pipelines": flowwidgets.runner,
                "FlavourProbe": flowwidgets.sources, "register_flavour": flowwidgets.sources}
    for name, home in plumbing.items():
        assert name not in flowwidgets.__all__ and name in home.__all__, name
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert getattr(flowwidgets, name) is getattr(home, name)
        assert f"from {home.__name__} import {name}" in str(caught[0].message)
    from flowwidgets.runner import LocalRunner

    assert flowwidgets.LocalRunner is LocalRunner
    assert sorted(flowwidgets.runner.__all__) == sorted(flowwidgets.runner._LAZY)
