"""Constructors fail loudly; missing bundles say how to build them; traits validate."""

from __future__ import annotations

import pytest
import traitlets

from flowwidgets.widgets import Dashboard, JobsTable, PipelineCards, RunView
from flowwidgets.widgets._base import read_asset


@pytest.mark.parametrize(("cls", "args", "typo", "meant"), [
    (PipelineCards, (), "on_selct", "on_select"),
    (PipelineCards, (), "them", "theme"),
    (JobsTable, (), "pipelin", "pipeline"),
    (JobsTable, (), "page_sise", "page_size"),
    (RunView, ("r1",), "on_opn", "on_open"),
    (Dashboard, (), "thme", "theme"),
])
def test_unknown_keyword_names_the_likely_misspelling(served, cls, args, typo, meant):
    with pytest.raises(TypeError, match=rf"unexpected keyword argument '{typo}'; did you mean "
                                        rf"'{meant}'\?"):
        cls(served.src, *args, **{typo: 1})


def test_unknown_keyword_without_a_near_match_lists_what_is_accepted(served):
    with pytest.raises(TypeError, match=r"'colour'.*accepted: .*theme"):
        PipelineCards(served.src, colour="teal")


def test_a_source_is_required():
    with pytest.raises(TypeError, match="needs a Source from flowwidgets.connect"):
        PipelineCards("http://127.0.0.1:8005")  # type: ignore[arg-type]  # the mistake itself


def test_trait_validation_says_how_to_fix(served):
    table = JobsTable(served.src, live=False, background=False)
    try:
        with pytest.raises(traitlets.TraitError, match="use one of: pending"):
            table.status = "exploded"
        with pytest.raises(traitlets.TraitError, match="sort_by must be one of"):
            table.sort_by = "colour"
        with pytest.raises(traitlets.TraitError, match="ISO-8601"):
            table.since = "yesterday"
        with pytest.raises(traitlets.TraitError, match="between 1 and 500"):
            table.page_size = 0
        with pytest.raises(traitlets.TraitError, match="theme must be one of"):
            table.theme = "sepia"
    finally:
        table.close()


def test_missing_bundle_says_how_to_build_it():
    with pytest.raises(FileNotFoundError, match="npm run build"):
        read_asset("no-such-widget.js")
    assert "render" in read_asset("cards.js")


def test_views_read_their_bundle_by_path_so_hot_reload_works(served, tmp_path):
    """``_esm``/``_css`` are anywidget file contents: a view sends the built file, and with
    ANYWIDGET_HMR=1 a rebuilt file reaches live views (here: a copy of the cards bundle in
    a temporary static folder, rewritten while a view is open)."""
    import subprocess
    import sys
    import textwrap

    from anywidget._file_contents import FileContents

    from flowwidgets.widgets._base import STATIC_DIR

    cards = PipelineCards(served.src, live=False)
    try:
        assert isinstance(PipelineCards.__dict__["_esm"], FileContents)
        assert cards._esm == (STATIC_DIR / "cards.js").read_text(encoding="utf-8")
        assert cards._css == (STATIC_DIR / "cards.css").read_text(encoding="utf-8")
    finally:
        cards.close()
    code = textwrap.dedent("""
        import shutil, sys, time
        from pathlib import Path
        import flowwidgets.widgets._base as base
        from flowwidgets.widgets import PipelineCards

        static = Path(sys.argv[1])
        for ext in ("js", "css"):
            shutil.copy(base.STATIC_DIR / f"cards.{ext}", static / f"hot.{ext}")
        base.STATIC_DIR = static

        class Hot(PipelineCards):
            _bundle = "hot"

        import flowwidgets as fw
        view = Hot(fw.connect(sys.argv[2]), live=False)
        time.sleep(0.5)  # the watcher is up
        (static / "hot.js").write_text("export default { render() {} } // rebuilt")
        deadline = time.monotonic() + 20
        while "rebuilt" not in view._esm:
            assert time.monotonic() < deadline, "the rebuilt bundle never reached the view"
            time.sleep(0.1)
        print("reloaded")
        view.close()
    """)
    done = subprocess.run([sys.executable, "-c", code, str(tmp_path), served.url],
                          env={**__import__("os").environ, "ANYWIDGET_HMR": "1"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("reloaded")
