"""What every flowwidgets widget shares: the bundle, connection state, live updates, the
message protocol, error display, strict constructors and the static fallback.

Buttons are messages: the view sends ``{kind, id, ...}``; :meth:`FlowWidget._on_message`
dispatches on ``kind`` to the subclass's handler, which may do HTTP through the Source, and
replies ``{kind, id, response}`` or ``{kind, id, error}``. Messages without an ``id``
(navigation, selection) get no reply.

Nothing a handler or a live update does may raise into the notebook: failures are logged
and shown under the widget through the ``error`` trait; a runner that went away shows as
"No runner attached" (``connected`` / ``connection_error``) until the poller sees it again.
"""

from __future__ import annotations

import difflib
import logging
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import anywidget
import traitlets

from flowwidgets import errors
from flowwidgets._vocab import TIME_ZONES, describe_error

if TYPE_CHECKING:
    from flowwidgets.live import LiveEvent
    from flowwidgets.sources import Source

__all__ = ["STATIC_DIR", "FlowWidget", "SelectsRuns", "check_kwargs", "describe_error",
           "read_asset"]

log = logging.getLogger("flowwidgets.widgets")

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
"""Where the build hook puts the bundles (``js/`` → ``flowwidgets/static/``)."""

THEMES = ("auto", "dark", "light")


def read_asset(name: str) -> str:
    """The text of a built bundle file, e.g. ``"cards.js"``.

    ``FileNotFoundError`` says how to build it when it is missing (a source checkout where
    neither ``pip install -e .`` nor ``npm run build`` ran).
    """
    path = STATIC_DIR / name
    try:
        mtime = path.stat().st_mtime_ns
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path} is missing: the widgets' JS bundle was not built. Run `pip install -e .` "
            "(its build hook runs npm), or `npm install && npm run build` in js/."
        ) from None
    return _read_cached(path, mtime)


@lru_cache(maxsize=32)
def _read_cached(path: Path, mtime: int) -> str:
    return path.read_text(encoding="utf-8")


def _require_bundle(cls: type) -> None:
    """Make sure ``cls`` has its built ``_esm``/``_css`` (a bundle built after the class
    was defined is picked up here); FileNotFoundError saying how to build it otherwise."""
    from anywidget._util import try_file_contents

    for klass in cls.__mro__:
        bundle = klass.__dict__.get("_bundle")
        if bundle:
            break
    else:
        return
    for key, ext in (("_esm", "js"), ("_css", "css")):
        if key not in klass.__dict__:
            read_asset(f"{bundle}.{ext}")  # raises with the how-to when it is missing
            setattr(klass, key, try_file_contents(STATIC_DIR / f"{bundle}.{ext}"))


def check_kwargs(cls: type, kwargs: Iterable[str], accepted: Iterable[str]) -> None:
    """``TypeError`` for an unknown keyword, naming the likely misspelling."""
    accepted = sorted(set(accepted))
    for key in kwargs:
        if key in accepted:
            continue
        close = difflib.get_close_matches(key, accepted, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise TypeError(f"{cls.__name__}() got an unexpected keyword argument {key!r}{hint} "
                        f"(accepted: {', '.join(accepted)})")


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class FlowWidget(anywidget.AnyWidget):
    """Base of the flowwidgets views: one Source, live through its shared poller."""

    _bundle: ClassVar[str] = ""
    """The bundle name: ``static/<name>.js`` and ``static/<name>.css``."""
    _extra_kwargs: ClassVar[tuple[str, ...]] = ()
    """Constructor keywords of the subclass (besides its public traits)."""

    # _esm and _css are the built files (static/<bundle>.js, .css), set per subclass in
    # __init_subclass__ as paths: anywidget reads them, and with ANYWIDGET_HMR=1 (in a
    # source checkout) re-sends them to every live view when `npm run dev` rebuilds them.

    def __init_subclass__(cls, **kwargs: Any) -> None:
        bundle = cls.__dict__.get("_bundle")
        if bundle:
            for key, ext in (("_esm", "js"), ("_css", "css")):
                path = STATIC_DIR / f"{bundle}.{ext}"
                if path.is_file():  # else the constructor says how to build it
                    setattr(cls, key, path)
        super().__init_subclass__(**kwargs)

    # -- connection --------------------------------------------------------------------
    connected = traitlets.Bool(True).tag(sync=True)
    """False while the runner does not answer; the view shows "No runner attached"."""
    connection_error = traitlets.Unicode("").tag(sync=True)
    """Why the runner is unreachable ("" while connected)."""

    # -- errors and look ---------------------------------------------------------------
    error = traitlets.Unicode("").tag(sync=True)
    """The last error a handler or update hit, shown under the view ("" when none; the
    view's Dismiss button clears it)."""
    theme = traitlets.Unicode("auto").tag(sync=True)
    """``"auto"`` follows JupyterLab's light/dark theme; ``"dark"`` or ``"light"`` force one."""
    time_zone = traitlets.Unicode("UTC").tag(sync=True)
    """How absolute times show (on hover of a relative time, in headers): ``"UTC"`` (the
    default, the same on every machine) or ``"local"`` (the browser's zone)."""

    def __init__(self, source: Source, *, live: bool = True, **kwargs: Any) -> None:
        check_kwargs(type(self), kwargs, self._accepted_kwargs())
        if source is None or not hasattr(source, "poller"):
            raise TypeError(f"{type(self).__name__}() needs a Source from flowwidgets.connect"
                            f"(url), got {source!r}")
        _require_bundle(type(self))
        super().__init__(**kwargs)
        self.source = source
        """The :class:`~flowwidgets.sources.Source` this view reads."""
        self._lock = threading.RLock()
        self._unsubscribe: Callable[[], None] | None = None
        self._closed = False
        self._live = live
        self.on_msg(self._on_message)

    @classmethod
    def _accepted_kwargs(cls) -> set[str]:
        public = {n for n in cls.class_trait_names(sync=True) if not n.startswith("_")}
        public -= {"comm", "keys", "log", "tabbable", "tooltip"}
        return public | {"layout"} | set(cls._extra_kwargs)

    @traitlets.validate("theme")
    def _valid_theme(self, proposal: dict[str, Any]) -> str:
        value = proposal["value"]
        if value not in THEMES:
            raise traitlets.TraitError(f"theme must be one of {THEMES}, got {value!r}")
        return value

    @traitlets.validate("time_zone")
    def _valid_time_zone(self, proposal: dict[str, Any]) -> str:
        value = proposal["value"]
        if value not in TIME_ZONES:
            raise traitlets.TraitError(f"time_zone must be one of {TIME_ZONES}, got {value!r}")
        return str(value)

    # -- live ----------------------------------------------------------------------------

    def _start(self) -> None:
        """First load, then follow the poller (called at the end of a subclass __init__)."""
        self._initial_load()
        if self._live:
            poller = self.source.poller()
            self._unsubscribe = poller.subscribe(self._on_live)
            if poller.connected is False:  # an outage already under way: no new event
                self._set_connection(False, poller.last_error or "the runner does not answer")

    def refresh(self) -> None:
        """Re-query the Source now (the poller does this by itself on every change)."""
        self._guarded(self._reload, "refreshing")

    def _initial_load(self) -> None:
        """The first load; subclasses may start it in the background."""
        self._guarded(self._reload, "loading")

    def _reload(self) -> None:
        """Subclasses: query the Source and set the traits (only those that changed)."""
        raise NotImplementedError

    def _on_changed(self, event: LiveEvent) -> None:
        """Subclasses may narrow what a "changed" event re-queries; default: everything."""
        self._reload()

    def _on_live(self, event: LiveEvent) -> None:
        """Poller thread: mirror the connection and re-query on change. Never raises."""
        if self._closed:
            return
        try:
            if event.kind == "disconnected":
                self._set_connection(False, event.error or "the runner does not answer")
            elif event.kind == "connected":  # a "changed" follows: it re-reads
                self._set_connection(True, "")
            elif event.kind == "changed":
                self._guarded(self._on_changed, "updating", event)
        except Exception:  # pragma: no cover - _guarded already catches; belt and braces
            log.exception("%s: live update failed", type(self).__name__)

    def _set_connection(self, ok: bool, reason: str) -> None:
        with self._lock, self.hold_sync():
            self._set(connected=ok, connection_error="" if ok else reason)

    def _guarded(self, fn: Callable[..., Any], doing: str, *args: Any) -> Any:
        """Run ``fn``; an unreachable runner marks the view offline, anything else is
        logged and shown in the ``error`` trait. Returns ``fn``'s result or None."""
        try:
            with self._lock:
                result = fn(*args)
            if not self.connected and self._poller_not_away():
                self._set_connection(True, "")
            return result
        except errors.RunnerUnavailable as exc:  # the poller's next "changed" reads again
            self._set_connection(False, str(exc))
        except Exception as exc:
            self._report(exc, doing)
        return None

    def _poller_not_away(self) -> bool:
        """False while the shared poller says the runner is away (it will tell us when it
        is back); True otherwise, so a successful call clears a transient failure."""
        if not self._live:
            return True
        try:
            return self.source.poller().connected is not False
        except Exception:  # a closed source
            return False

    def _report(self, exc: BaseException, doing: str) -> None:
        if self._closed:  # e.g. a background load outliving the widget
            log.debug("%s (closed) %s failed: %s", type(self).__name__, doing, exc)
            return
        log.error("%s %s failed: %s", type(self).__name__, doing, exc,
                  exc_info=not isinstance(exc, errors.FlowwidgetsError))
        self._set(error=f"{doing} failed: {describe_error(exc)}")

    def _set(self, **values: Any) -> None:
        """Set traits whose value differs (only those are sent to the browser)."""
        for name, value in values.items():
            if getattr(self, name) != value:
                setattr(self, name, value)

    # -- messages ------------------------------------------------------------------------

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        """Subclasses: message kind → handler taking the message and returning the reply."""
        return {}

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        """Dispatch a message from the view; reply when it carries an ``id``."""
        if not isinstance(content, dict):
            log.warning("%s ignored a message that is not an object: %r",
                        type(self).__name__, content)
            return
        kind = str(content.get("kind", ""))
        msg_id = content.get("id")
        handler = self._handlers().get(kind)
        if handler is None:
            self._reply(kind, msg_id, error=f"unknown message kind {kind!r}")
            log.warning("%s got an unknown message kind %r", type(self).__name__, kind)
            return
        try:
            response = handler(content)
        except errors.SourceError as exc:
            self._reply(kind, msg_id, error=describe_error(exc))
            return
        except Exception as exc:
            self._report(exc, kind)
            self._reply(kind, msg_id, error=describe_error(exc))
            return
        self._reply(kind, msg_id, response=response)

    def _reply(self, kind: str, msg_id: Any, *, response: Any = None,
               error: str | None = None) -> None:
        if msg_id is None:
            return
        msg: dict[str, Any] = {"kind": kind, "id": msg_id}
        if error is not None:
            msg["error"] = error
        else:
            msg["response"] = response
        self.send(msg)

    def _action(self, kind: str, call: Callable[[], str], *, key: str = "new_run_id",
                **about: Any) -> dict[str, Any]:
        """Run an action through the Source, mirror it in ``last_action``, return the reply
        (``{key: what the Source returned}``: the new run id, or a cancel's status)."""
        outcome: dict[str, Any] = {"kind": kind, **about, key: None, "error": None,
                                   "at": _now()}
        try:
            result = call()
        except errors.SourceError as exc:
            outcome["error"] = describe_error(exc)
            self._set(last_action=outcome)
            log.info("%s %s refused: %s", type(self).__name__, kind, outcome["error"])
            raise
        outcome[key] = result
        self._set(last_action=outcome)
        return {key: result}

    def _call_user(self, callbacks: list[Callable[..., Any]], *args: Any) -> None:
        """Call user callbacks; their exceptions show under the widget, never raise."""
        for cb in list(callbacks):
            try:
                cb(*args)
            except Exception as exc:
                self._report(exc, f"callback {getattr(cb, '__name__', cb)!s}")

    # -- lifetime and display ----------------------------------------------------------

    def close(self) -> None:
        """Stop following the poller and close the widget."""
        self._closed = True
        # getattr: ipywidgets' __del__ also calls close() on a half-built widget
        unsubscribe = getattr(self, "_unsubscribe", None)
        self._unsubscribe = None
        if unsubscribe is not None:
            unsubscribe()
        super().close()

    def _static_html(self) -> str:
        """Subclasses: the static HTML of the current state."""
        raise NotImplementedError

    def _static_text(self) -> str:
        """Subclasses: a plain-text summary of the current state."""
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:  # pragma: no cover - closed widget
            return None
        data, meta = bundle
        try:
            from flowwidgets.widgets._static import themed

            if not self.connected:
                from flowwidgets.widgets._fallback import offline_html

                html = offline_html(self._bundle, self.connection_error)
            else:
                html = self._static_html()
            data["text/html"] = themed(html, self.theme)
            data["text/plain"] = self._static_text()
        except Exception:  # the live view must still show if the fallback breaks
            log.exception("%s: static fallback failed", type(self).__name__)
        return self._display_bundle(data), meta

    def _display_bundle(self, data: dict[str, Any]) -> dict[str, Any]:
        """Subclasses: change what a display of this view shows (default: the view)."""
        return data


class SelectsRuns:
    """Mixin of the views that pick a run (a strip square, a table row): ``on_select``
    callbacks and the view's ``select`` message. The view declares ``selected_run_id`` and
    sets ``_select_callbacks`` to a list before the first message."""

    _select_callbacks: list[Callable[[str], Any]]
    selected_run_id: str | None
    _call_user: Callable[..., None]

    def on_select(self, callback: Callable[[str], Any]) -> None:
        """Call ``callback(run_id)`` every time a run is picked in the view (a click, or
        Enter on a focused square or row; picking the same run again too)."""
        self._select_callbacks.append(callback)

    def _msg_select(self, msg: dict[str, Any]) -> None:
        run_id = str(msg.get("run_id") or "")
        if not run_id:
            raise ValueError("select needs a run_id")
        self.selected_run_id = run_id
        self._call_user(self._select_callbacks, run_id)
        self._run_picked(run_id)

    def _run_picked(self, run_id: str) -> None:
        """Subclasses: what else a pick does (standalone views open the run below)."""
