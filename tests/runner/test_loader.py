"""The pipelines-file loader: every kind of mistake is a SpecError at its exact line."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import pytest

from flowwidgets.errors import SpecError
from flowwidgets.runner._loader import load_file, validate
from flowwidgets.runner.spec import Pipelines, PipelineSpec, StepSpec, load_pipelines

VALID = """\
pipelines:
  - name: orders_daily
    kind: batch
    schedule: "30 2 * * *"
    timezone: America/Chicago
    description: "Orders, deduplicated"
    steps:
      - name: fetch
        run: "echo fetched"
        retries: 2
        retry_delay_s: 1
      - name: dedupe
        depends_on: [fetch]
        run: "echo deduped"
        timeout_s: 600
  - name: clicks
    kind: streaming
    steps:
      - name: consume
        run: "echo consuming"
"""


def write(tmp_path: Path, text: str, name: str = "pipelines.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def error(tmp_path: Path, text: str) -> SpecError:
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_pipelines(path)
    err = info.value
    assert err.path == str(path)
    assert str(err).startswith(f"{path}:{err.line}: " if err.line else f"{path}: ")
    return err


def steps_yaml(*lines: str) -> str:
    """A one-pipeline file whose steps list is ``lines`` (the first step line is line 4)."""
    return "pipelines:\n  - name: p\n    steps:\n" + "".join(f"      {ln}\n" for ln in lines)


@pytest.fixture
def fresh_modules():
    """Forget the fw_* modules a test imported from its tmp_path, so names can be reused."""
    yield
    for name in [m for m in sys.modules if m.startswith("fw_")]:
        del sys.modules[name]


# ------------------------------------------------------------------------- valid files


def test_valid_file_round_trip(tmp_path):
    path = write(tmp_path, VALID)
    pipes = load_file(path)
    assert pipes.names == ("orders_daily", "clicks")
    assert pipes.path == path.resolve()
    assert pipes.base_dir == tmp_path.resolve()
    orders = pipes["orders_daily"]
    assert (orders.kind, orders.schedule, orders.timezone) == ("batch", "30 2 * * *",
                                                                "America/Chicago")
    assert orders.description == "Orders, deduplicated"
    assert orders.line == 2
    fetch, dedupe = orders.steps
    assert (fetch.name, fetch.run, fetch.retries, fetch.retry_delay_s) == (
        "fetch", "echo fetched", 2, 1)
    assert (fetch.line, dedupe.line) == (8, 12)
    assert dedupe.depends_on == ("fetch",)
    assert dedupe.timeout_s == 600 and dedupe.call is None
    clicks = pipes["clicks"]
    assert (clicks.kind, clicks.schedule, clicks.timezone) == ("streaming", None, "UTC")
    assert clicks.steps[0].retries == 0 and clicks.steps[0].depends_on == ()
    validate(pipes)  # what a file produced validates again in Python


def test_anchors_and_merge_keys(tmp_path):
    pipes = load_file(write(tmp_path, """\
        x-retry: &retry {retries: 3, retry_delay_s: 0.5}
        pipelines:
          - name: p
            steps:
              - {name: a, run: "true", <<: *retry}
              - name: b
                <<: *retry
                retries: 1
                run: "true"
        """))
    a, b = pipes["p"].steps
    assert (a.retries, a.retry_delay_s) == (3, 0.5)
    assert (b.retries, b.retry_delay_s) == (1, 0.5)  # own key overrides the merged one


def test_null_optional_values_mean_not_given(tmp_path):
    pipes = load_file(write(tmp_path, steps_yaml("- {name: a, run: 'true', timeout_s: null}")
                            .replace("    steps:", "    schedule:\n    steps:")))
    assert pipes["p"].schedule is None and pipes["p"].steps[0].timeout_s is None


# ------------------------------------------------------------------- file-level problems


def test_missing_file(tmp_path):
    with pytest.raises(SpecError, match="cannot read the pipelines file") as info:
        load_pipelines(tmp_path / "nope.yaml")
    assert info.value.path == str(tmp_path / "nope.yaml") and info.value.line is None


@pytest.mark.parametrize("text", ["", "# only a comment\n\n"])
def test_empty_file(tmp_path, text):
    err = error(tmp_path, text)
    assert err.line == 1 and "empty" in err.message and "'pipelines:'" in err.message


def test_malformed_yaml_has_the_line_of_the_mark(tmp_path):
    err = error(tmp_path, steps_yaml("- name: a", "  run: 'true'", "  depends_on: [x",
                                     "- name: b"))
    assert err.message.startswith("invalid YAML:")
    assert err.line == 7  # where the parser noticed the unclosed '['


def test_unquoted_cron_gets_a_quoting_hint(tmp_path):
    err = error(tmp_path, "pipelines:\n  - name: p\n    schedule: * * * * *\n")
    assert err.line == 3
    assert 'quote values that contain "*"' in err.message


def test_tabs_get_a_hint(tmp_path):
    err = error(tmp_path, "pipelines:\n\t- name: p\n")
    assert err.line == 2 and "spaces, not tabs" in err.message


def test_top_level_list_instead_of_mapping(tmp_path):
    err = error(tmp_path, "- name: p\n  steps: []\n")
    assert err.line == 1
    assert "must be a mapping with a 'pipelines' list" in err.message
    assert "put 'pipelines:' on the first line" in err.message


def test_no_pipelines_key(tmp_path):
    err = error(tmp_path, "# header\nx-note: hello\n")
    assert err.line == 2 and "has no 'pipelines' key" in err.message


@pytest.mark.parametrize("value", ["[]", "{name: p}", "hello"])
def test_pipelines_must_be_a_non_empty_list(tmp_path, value):
    err = error(tmp_path, f"# c\npipelines: {value}\n")
    assert err.line == 2 and "'pipelines' must be a non-empty list" in err.message


def test_pipeline_entry_must_be_a_mapping(tmp_path):
    err = error(tmp_path, "pipelines:\n  - name: p\n    steps: [{name: a, run: x}]\n  - p2\n")
    assert err.line == 4 and "pipeline #2 must be a mapping" in err.message


# --------------------------------------------------------------------------- unknown keys


def test_unknown_top_level_key_suggests(tmp_path):
    err = error(tmp_path, "pipelines:\n  - name: p\n    steps: [{name: a, run: x}]\n"
                          "pipeline: []\n")
    assert err.line == 4
    assert "unknown top-level key 'pipeline'" in err.message
    assert "did you mean 'pipelines'?" in err.message


def test_unknown_pipeline_key_suggests(tmp_path):
    err = error(tmp_path, "pipelines:\n  - name: orders\n    shedule: '0 * * * *'\n"
                          "    steps: [{name: a, run: x}]\n")
    assert err.line == 3
    assert "unknown key 'shedule' in pipeline 'orders'" in err.message
    assert "did you mean 'schedule'?" in err.message


def test_step_key_on_a_pipeline_says_where_it_belongs(tmp_path):
    err = error(tmp_path, "pipelines:\n  - name: orders\n    steps: [{name: a, run: x}]\n"
                          "    retries: 2\n")
    assert err.line == 4 and "'retries' is a step key; move it under a step" in err.message


def test_unknown_step_key_suggests_depends_on(tmp_path):
    err = error(tmp_path, steps_yaml("- name: a", "  run: x", "- name: b", "  run: y",
                                     "  depends: [a]"))
    assert err.line == 8
    assert "unknown key 'depends' in step 'b' of pipeline 'p'" in err.message
    assert "did you mean 'depends_on'?" in err.message


def test_pipeline_key_on_a_step_says_where_it_belongs(tmp_path):
    err = error(tmp_path, steps_yaml("- name: a", "  run: x", "  schedule: '0 * * * *'"))
    assert err.line == 6 and "'schedule' is a pipeline key; move it up" in err.message


def test_duplicate_key_in_one_mapping(tmp_path):
    err = error(tmp_path, steps_yaml("- name: a", "  run: x", "  run: y"))
    assert err.line == 6 and "key 'run' appears twice" in err.message
    assert "first on line 5" in err.message


# ------------------------------------------------------------------------ names and steps


def test_missing_pipeline_name(tmp_path):
    err = error(tmp_path, "pipelines:\n  - name: ok\n    steps: [{name: a, run: x}]\n"
                          "  - kind: batch\n    steps: [{name: a, run: x}]\n")
    assert err.line == 4 and "pipeline #2 has no name" in err.message


def test_pipeline_name_that_yaml_reads_as_a_number(tmp_path):
    err = error(tmp_path, "pipelines:\n  - name: 2024\n    steps: [{name: a, run: x}]\n")
    assert err.line == 2 and "must be text, got 2024 (int)" in err.message
    assert 'quote it, e.g. name: "2024"' in err.message


def test_name_with_spaces(tmp_path):
    err = error(tmp_path, steps_yaml("- name: fetch orders", "  run: x"))
    assert err.line == 4 and "may use only letters, digits" in err.message


def test_duplicate_pipeline_name(tmp_path):
    err = error(tmp_path, "pipelines:\n  - name: p\n    steps: [{name: a, run: x}]\n"
                          "  - name: q\n    steps: [{name: a, run: x}]\n"
                          "  - name: p\n    steps: [{name: a, run: x}]\n")
    assert err.line == 6
    assert "pipeline name 'p' is used twice (first on line 2)" in err.message


def test_missing_steps(tmp_path):
    err = error(tmp_path, "pipelines:\n  - name: p\n    kind: batch\n")
    assert err.line == 2 and "pipeline 'p' has no steps" in err.message


def test_empty_steps(tmp_path):
    err = error(tmp_path, "pipelines:\n  - name: p\n    steps: []\n")
    assert err.line == 3 and "'steps' of pipeline 'p' must be a non-empty list" in err.message


def test_duplicate_step(tmp_path):
    err = error(tmp_path, steps_yaml("- name: a", "  run: x", "- name: b", "  run: y",
                                     "- name: a", "  run: z"))
    assert err.line == 8
    assert "step 'a' appears twice in pipeline 'p' (first on line 4)" in err.message


def test_missing_step_name(tmp_path):
    err = error(tmp_path, steps_yaml("- name: a", "  run: x", "- run: y"))
    assert err.line == 6 and "step #2 of pipeline 'p' has no name" in err.message


# -------------------------------------------------------------------------- dependencies


def test_unknown_dependency(tmp_path):
    err = error(tmp_path, steps_yaml("- name: fetch", "  run: x", "- name: b", "  run: y",
                                     "  depends_on: [fetch, fecth]"))
    assert err.line == 8
    assert ("step 'b' depends on 'fecth', which is not a step of pipeline 'p' "
            "(did you mean 'fetch'?); steps are: fetch, b") in err.message


def test_depends_on_must_be_a_list(tmp_path):
    err = error(tmp_path, steps_yaml("- name: a", "  run: x", "- name: b", "  run: y",
                                     "  depends_on: a"))
    assert err.line == 8 and "must be a list of step names, e.g. depends_on: [fetch]" in (
        err.message)


def test_dependency_listed_twice(tmp_path):
    err = error(tmp_path, steps_yaml("- name: a", "  run: x", "- name: b", "  run: y",
                                     "  depends_on: [a, a]"))
    assert err.line == 8 and "lists 'a' twice" in err.message


def test_dependency_cycle_is_named(tmp_path):
    err = error(tmp_path, steps_yaml(
        "- name: start", "  run: x",
        "- name: a", "  run: x", "  depends_on: [start, c]",
        "- name: b", "  run: x", "  depends_on: [a]",
        "- name: c", "  run: x", "  depends_on: [b]",
    ))
    assert "dependency cycle in pipeline 'p': a → b → c → a" in err.message
    assert "remove 'c' from the depends_on of 'a'" in err.message
    assert err.line == 8  # a's depends_on: a is the first of the cycle in the file


def test_self_dependency(tmp_path):
    err = error(tmp_path, steps_yaml("- name: a", "  run: x", "  depends_on: [a]"))
    assert err.line == 6 and "dependency cycle in pipeline 'p': a → a" in err.message


def test_long_chain_validates_fast_without_recursion(tmp_path):
    lines = ["- {name: s0, run: 'true'}"]
    lines += [f"- {{name: s{i}, run: 'true', depends_on: [s{i - 1}]}}" for i in range(1, 2000)]
    path = write(tmp_path, steps_yaml(*lines))
    t0 = time.perf_counter()
    pipes = load_file(path)
    assert time.perf_counter() - t0 < 2.0
    assert len(pipes["p"].steps) == 2000
    looped = steps_yaml(*lines[:-1], "- {name: s1999, run: 'true', depends_on: [s1998]}",
                        ).replace("- {name: s0, run: 'true'}",
                                  "- {name: s0, run: 'true', depends_on: [s1999]}")
    err = error(tmp_path, looped)
    assert err.line == 4 and "s0 → s1 → s2" in err.message and "s1999 → s0;" in err.message


# ----------------------------------------------------------------- call/run and numbers


def test_both_call_and_run(tmp_path):
    err = error(tmp_path, steps_yaml("- name: a", "  call: m:f", "  run: x"))
    assert err.line == 6 and "has both 'call' and 'run'; give exactly one" in err.message


def test_neither_call_nor_run(tmp_path):
    err = error(tmp_path, steps_yaml("- name: a", "  retries: 1"))
    assert err.line == 4 and "has neither 'call' nor 'run'" in err.message


def test_blank_run(tmp_path):
    err = error(tmp_path, steps_yaml("- name: a", "  run: '  '"))
    assert err.line == 5 and "must be a non-empty shell command" in err.message


def test_call_format(tmp_path):
    err = error(tmp_path, steps_yaml("- name: a", "  call: jobs.fetch"))
    assert err.line == 5 and "must look like 'package.module:function'" in err.message


@pytest.mark.parametrize(("line", "expect"), [
    ("retries: two", "retries of step 'a' of pipeline 'p' must be a whole number from 0 to"),
    ("retries: -1", "got -1 (int)"),
    ("retries: true", "got True (bool)"),
    ("retries: 1000", "got 1000 (int)"),
    ("retries: 1.5", "got 1.5 (float)"),
    ("retry_delay_s: -1", "retry_delay_s of step 'a' of pipeline 'p' must be a number"),
    ("retry_delay_s: .nan", "got nan (float)"),
    ("timeout_s: 0", "timeout_s of step 'a' of pipeline 'p' must be a number of seconds above 0"),
    ("timeout_s: '10'", "got '10' (str)"),
])
def test_retry_and_timeout_types_and_ranges(tmp_path, line, expect):
    err = error(tmp_path, steps_yaml("- name: a", "  run: x", f"  {line}"))
    assert err.line == 6 and expect in err.message


# ------------------------------------------------------------ schedule, timezone, kind


def pipe_yaml(*keys: str) -> str:
    return ("pipelines:\n  - name: p\n" + "".join(f"    {k}\n" for k in keys)
            + "    steps: [{name: a, run: x}]\n")


@pytest.mark.parametrize(("value", "expect"), [
    ('"0 0 * * * *"', "has 6 fields; a cron expression has exactly 5"),
    ('"0 0 *"', "has 3 fields"),
    ('"61 * * * *"', "is not a valid cron expression"),
    ('"0 0 31 2 *"', "never fires"),
    ("'@hourly'", 'write \'@hourly\' as 5 fields: "0 * * * *"'),
    ("5", "must be a quoted cron expression"),
])
def test_bad_cron(tmp_path, value, expect):
    err = error(tmp_path, pipe_yaml("kind: batch", f"schedule: {value}"))
    assert err.line == 4 and expect in err.message


def test_good_cron_in_a_timezone(tmp_path):
    pipes = load_file(write(tmp_path, pipe_yaml('schedule: "*/15 9-17 * * 1-5"',
                                                "timezone: Europe/Berlin")))
    assert pipes["p"].schedule == "*/15 9-17 * * 1-5" and pipes["p"].timezone == "Europe/Berlin"


def test_streaming_with_schedule(tmp_path):
    err = error(tmp_path, pipe_yaml("kind: streaming", "schedule: '0 * * * *'"))
    assert err.line == 4 and "is streaming" in err.message and "remove 'schedule'" in (
        err.message)


@pytest.mark.parametrize(("value", "expect"), [
    ("America/Chicgo", "did you mean 'America/Chicago'?"),
    ("Mars/Olympus", "unknown timezone 'Mars/Olympus'"),
    ("../../etc/passwd", "unknown timezone"),
    ("America", "unknown timezone 'America'"),
    ("null", "must be an IANA name"),
])
def test_unknown_timezone(tmp_path, value, expect):
    err = error(tmp_path, pipe_yaml("description: d", f"timezone: {value}"))
    assert err.line == 4 and expect in err.message


def test_kind_must_be_batch_or_streaming(tmp_path):
    err = error(tmp_path, pipe_yaml("kind: stream"))
    assert err.line == 3
    assert "kind of pipeline 'p' must be 'batch' or 'streaming', got 'stream'" in err.message


# ------------------------------------------------------------------------- call targets


def call_file(tmp_path: Path, module: str, source: str, call: str, deps: str = "") -> Path:
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    lines = ["- name: up", "  run: x", "- name: a", f"  call: {call}"]
    if deps:
        lines.append(f"  depends_on: {deps}")
    return write(tmp_path, steps_yaml(*lines))


def load_error(path: Path) -> SpecError:
    with pytest.raises(SpecError) as info:
        load_pipelines(path)
    return info.value


def test_call_target_resolves_from_the_files_folder(tmp_path, fresh_modules):
    path = call_file(tmp_path, "fw_jobs_ok", """\
        def f(up, ctx, extra=1, **more):
            return up
        """, "fw_jobs_ok:f", "[up]")
    before = list(sys.path)
    pipes = load_pipelines(path)
    assert sys.path == before  # the file's folder was only on the path while importing
    assert "fw_jobs_ok" in sys.modules
    assert pipes["p"].step("a").call == "fw_jobs_ok:f"


def test_call_module_missing(tmp_path, fresh_modules):
    path = write(tmp_path, steps_yaml("- name: a", "  call: fw_no_such_mod.jobs:f"))
    err = load_error(path)
    assert err.line == 5
    assert "cannot import 'fw_no_such_mod.jobs': No module named 'fw_no_such_mod'" in (
        err.message)
    assert str(tmp_path.resolve()) in err.message


def test_call_module_raises_on_import(tmp_path, fresh_modules):
    path = call_file(tmp_path, "fw_jobs_boom", "import os\nx = undefined_name\n",
                     "fw_jobs_boom:f")
    err = load_error(path)
    assert err.line == 7
    assert "importing 'fw_jobs_boom' raised NameError: name 'undefined_name' is not defined" in (
        err.message)
    assert "fw_jobs_boom.py:2" in err.message


def test_call_module_with_syntax_error(tmp_path, fresh_modules):
    path = call_file(tmp_path, "fw_jobs_syntax", "def f(:\n  pass\n", "fw_jobs_syntax:f")
    err = load_error(path)
    assert err.line == 7 and "raised SyntaxError" in err.message


def test_call_attribute_missing_suggests(tmp_path, fresh_modules):
    path = call_file(tmp_path, "fw_jobs_attr", "def fetch_orders():\n    return 1\n",
                     "fw_jobs_attr:fetch_ordrs")
    err = load_error(path)
    assert err.line == 7
    assert "'fw_jobs_attr' has no attribute 'fetch_ordrs' (did you mean 'fetch_orders'?)" in (
        err.message)


def test_call_target_not_callable(tmp_path, fresh_modules):
    path = call_file(tmp_path, "fw_jobs_notcall", "LIMIT = 5\n", "fw_jobs_notcall:LIMIT")
    err = load_error(path)
    assert err.line == 7 and "names a int, not a function" in err.message


def test_call_target_with_a_parameter_nobody_supplies(tmp_path, fresh_modules):
    path = call_file(tmp_path, "fw_jobs_param", "def f(up, orders, ctx=None):\n    return 1\n",
                     "fw_jobs_param:f", "[up]")
    err = load_error(path)
    assert err.line == 7
    assert "requires parameter 'orders'" in err.message and "(upstream: up)" in err.message


def test_call_module_shadowed_by_an_earlier_import(tmp_path, fresh_modules):
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    load_pipelines(call_file(first, "fw_jobs_same", "def f():\n    return 1\n",
                             "fw_jobs_same:f"))
    err = load_error(call_file(second, "fw_jobs_same", "def f():\n    return 2\n",
                               "fw_jobs_same:f"))
    assert err.line == 7 and "is already imported from" in err.message
    assert str(first.resolve() / "fw_jobs_same.py") in err.message


def test_nothing_is_imported_when_another_check_fails(tmp_path, fresh_modules):
    (tmp_path / "fw_jobs_side.py").write_text(
        "from pathlib import Path\nPath(__file__).with_name('imported').touch()\n"
        "def f():\n    return 1\n")
    err = error(tmp_path, steps_yaml("- name: a", "  call: fw_jobs_side:f",
                                     "- name: b", "  run: x", "  depends_on: [zz]"))
    assert err.line == 8 and not (tmp_path / "imported").exists()


# --------------------------------------------------------------- pipelines built in Python


def test_python_built_pipelines_validate_the_same_way(tmp_path):
    good = Pipelines((PipelineSpec("p", steps=(
        StepSpec("a", run="true"),
        StepSpec("b", depends_on=("a",), call="flowwidgets.demo.jobs:extract_orders"),
    ), schedule="0 * * * *"),), base_dir=tmp_path)
    validate(good)
    bad = (PipelineSpec("p", steps=(StepSpec("a", run="true"),
                                    StepSpec("b", depends_on=("x",), run="true"))),)
    with pytest.raises(SpecError) as info:
        validate(bad)
    assert info.value.line is None and info.value.path is None
    assert str(info.value) == ("step 'b' depends on 'x', which is not a step of pipeline "
                               "'p'; steps are: a, b")


@pytest.mark.parametrize(("spec", "expect"), [
    (PipelineSpec("p", steps=(StepSpec("a", run="x", depends_on="b"),)),  # type: ignore[arg-type]
     "depends_on of step 'a' of pipeline 'p' must be a list of step names, got 'b' (str)"),
    (PipelineSpec("p", steps=()), "pipeline 'p' has no steps"),
    (PipelineSpec("p", steps=(StepSpec("a", run="x"),), schedule="0 * *"), "has 3 fields"),
    (PipelineSpec("p", steps=(StepSpec("a", run="x", retries="1"),)),  # type: ignore[arg-type]
     "retries of step 'a'"),
    (PipelineSpec("p", steps=(StepSpec("a", call="fw_nope_x:f"),)), "cannot import"),
    (PipelineSpec("p", steps=("a",)), "step #1 of pipeline 'p' is a str, not a StepSpec"),  # type: ignore[arg-type]
])
def test_python_built_mistakes(spec, expect):
    with pytest.raises(SpecError) as info:
        validate([spec])
    assert expect in info.value.message and info.value.line is None


def test_python_built_duplicate_names_and_empty():
    step = StepSpec("a", run="x")
    with pytest.raises(SpecError, match="pipeline name 'p' is used twice; pipeline names"):
        validate([PipelineSpec("p", steps=(step,)), PipelineSpec("p", steps=(step,))])
    with pytest.raises(SpecError, match="there are no pipelines"):
        validate(Pipelines(()))


# ------------------------------------------------------------------------- hostile sizes


def _alias_bomb(levels: int) -> str:
    lines = ['x-a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for name in "bcdefghijk"[:levels - 1]:
        lines.append(f"x-{name}: &{name} [{','.join([f'*{prev}'] * 9)}]")
        prev = name
    return "\n".join(lines) + (f"\npipelines:\n  - name: *{prev}\n    steps:\n"
                               "      - name: s\n        run: 'true'\n")


def test_alias_bomb_is_refused_fast_at_its_line(tmp_path):
    text = _alias_bomb(9)  # 9**9 values in about 430 bytes: took 108 s and 3 GB before
    assert len(text) < 500
    started = time.perf_counter()
    err = error(tmp_path, text)
    assert time.perf_counter() - started < 2
    assert "aliases expand to more than" in str(err)
    assert err.line is not None and err.line <= 9
    assert len(str(err)) < 300


def test_recursive_alias_is_refused(tmp_path):
    err = error(tmp_path, "x-a: &a [1, *a]\npipelines:\n  - name: *a\n    steps: []\n")
    assert "refers to itself" in str(err) or "recursive" in str(err)


def test_a_large_wrong_value_is_shown_clipped(tmp_path):
    items = ", ".join(f'"v{i}"' for i in range(20_000))
    err = error(tmp_path, f"pipelines:\n  - name: [{items}]\n    steps:\n"
                          "      - name: s\n        run: 'true'\n")
    assert "must be text" in str(err) and len(str(err)) < 300
