// JobsTable: every run, flat, one page at a time (paging, sorting and filtering happen in the
// kernel with pandas; only the visible page is sent here). Twin of flowwidgets/widgets/_jobs_table.py.
import type { RenderProps } from "@anywidget/types";
import { h, replaceChildren, setText } from "../lib/dom";
import { counted, formatDuration } from "../lib/format";
import { absoluteTime, asZone, etaInZone, refreshTimes, timeElement, zoneName } from "../lib/when";
import { type BaseModel, mountView } from "../lib/shell";
import { STATUS_ICON, asStatus } from "../lib/status";
import { COLUMNS, type JobRow, TABLE_MIN_WIDTH, TRIGGER_WORD, lineageText } from "./jobs/columns";
import { TIME_WINDOWS, isoToLocal, localToIso, pageCount, pageSummary } from "./jobs/paging";
import "../lib/theme.css";
import "./jobs-table.css";

// the rows, columns and paging helpers live in ./jobs/; re-exported for the tests and users
export { COLUMNS, type JobRow, TABLE_MIN_WIDTH, TRIGGER_WORD, lineageText } from "./jobs/columns";
export { TIME_WINDOWS, isoToLocal, localToIso, pageCount, pageSummary } from "./jobs/paging";

/** Traits of flowwidgets.JobsTable. */
export interface JobsModel extends BaseModel {
  /** Only this pipeline's runs (null: all). */
  pipeline: string | null;
  /** Only runs with this status (null: all). */
  status: string | null;
  /** Only runs that started in the last "1h" | "24h" | "7d" | "30d" (null: any time). */
  last: string | null;
  /** Only runs started at or after this ISO time (null: no bound). */
  since: string | null;
  /** Only runs started before this ISO time (null: no bound). */
  until: string | null;
  /** Free text matched against run id, pipeline, status, failed step, trigger. */
  search: string;
  /** The kernel's run-set filter (``run_ids``), named ("failures: <signature>"); "" when
   * none. Shown as a removable chip. */
  run_set?: string;
  /** The column sorted by. */
  sort_by: string;
  /** Sort ascending (false: newest / largest first). */
  ascending: boolean;
  /** Zero-based page number. */
  page: number;
  /** Rows per page. */
  page_size: number;
  /** Runs that match the filters. */
  total: number;
  /** The visible page. */
  _rows: JobRow[];
  /** Choices for the filter selects. */
  _options: { pipelines: string[]; statuses: string[] };
  /** The run of the row picked last (null before any). */
  selected_run_id: string | null;
  /** True while the whole history is still being read into the kernel. */
  loading: boolean;
}

function render({ model, el }: RenderProps<JobsModel>) {
  const view = mountView(model, el, "fw-jobs");
  const { doc, shell, rpc, on } = view;
  const setTraits = (values: Partial<JobsModel>) => {
    for (const [k, v] of Object.entries(values)) model.set(k as keyof JobsModel, v as never);
    model.save_changes();
  };

  // filters
  const pipelineSel = h(doc, "select", { class: "fw-select", "aria-label": "Filter by pipeline" });
  const statusSel = h(doc, "select", { class: "fw-select", "aria-label": "Filter by status" });
  const windowSel = h(
    doc,
    "select",
    { class: "fw-select", "aria-label": "Filter by start time" },
    TIME_WINDOWS.map(([v, label]) => h(doc, "option", { value: v }, label)),
  );
  const search = h(doc, "input", {
    class: "fw-input",
    type: "search",
    placeholder: "search id, pipeline, step…",
    "aria-label": "Search runs",
  });
  const count = h(doc, "span", { class: "fw-label fw-count", "aria-live": "polite" });
  pipelineSel.addEventListener("change", () => setTraits({ pipeline: pipelineSel.value || null, page: 0 }));
  statusSel.addEventListener("change", () => setTraits({ status: statusSel.value || null, page: 0 }));
  // a custom range: two date-times in the view's zone, shown while "custom range" is picked
  const zoneNow = () => asZone(model.get("time_zone"));
  const fromInput = h(doc, "input", { class: "fw-input fw-date", type: "datetime-local" });
  const toInput = h(doc, "input", { class: "fw-input fw-date", type: "datetime-local" });
  const rangeZone = h(doc, "span", { class: "fw-label fw-range-zone" });
  const labelRange = () => {
    const z = zoneName(zoneNow());
    fromInput.setAttribute("aria-label", `Started from (${z})`);
    toInput.setAttribute("aria-label", `Started before (${z})`);
    rangeZone.textContent = z;
  };
  labelRange();
  const range = h(doc, "span", { class: "fw-range", hidden: true }, fromInput, h(doc, "span", { class: "fw-dim" }, "–"), toInput, rangeZone);
  const applyRange = () => setTraits({ last: null, since: localToIso(fromInput.value, zoneNow()), until: localToIso(toInput.value, zoneNow()), page: 0 });
  fromInput.addEventListener("change", applyRange);
  toInput.addEventListener("change", applyRange);
  windowSel.append(h(doc, "option", { value: "custom" }, "custom range…"));
  windowSel.addEventListener("change", () => {
    if (windowSel.value === "custom") {
      range.hidden = false;
      fromInput.focus();
      return;
    }
    setTraits({ last: windowSel.value || null, since: null, until: null, page: 0 });
  });
  // export: the kernel writes the CSV of every filtered row; the browser saves it
  const exportBtn = h(doc, "button", { type: "button", class: "fw-btn fw-btn--ghost", "data-action": "export-csv", title: "Download the filtered rows (every page) as CSV" }, "⤓ CSV");
  exportBtn.addEventListener("click", async () => {
    exportBtn.disabled = true;
    try {
      const res = (await rpc.call("export_csv", {})) as { filename: string; csv: string; rows: number };
      const win = doc.defaultView as (Window & typeof globalThis) | null;
      const url = win?.URL?.createObjectURL ? win.URL.createObjectURL(new win.Blob([res.csv], { type: "text/csv" })) : `data:text/csv;charset=utf-8,${encodeURIComponent(res.csv)}`;
      const a = h(doc, "a", { href: url, download: res.filename, hidden: true });
      doc.body.append(a);
      a.click();
      a.remove();
      if (url.startsWith("blob:")) setTimeout(() => win?.URL.revokeObjectURL(url), 10_000);
      shell.notice(`✓ exported ${counted(res.rows, "run")} to ${res.filename}`);
    } catch (err) {
      shell.notice(`✗ export: ${(err as Error).message}`, true);
    } finally {
      exportBtn.disabled = false;
    }
  });
  // the run-set filter (a failure group's runs): a chip; × lifts it in the kernel
  const runSetChip = h(doc, "span", { class: "fw-filter fw-runset", hidden: true });
  const drawRunSet = () => {
    const name = model.get("run_set") ?? "";
    runSetChip.hidden = !name;
    replaceChildren(runSetChip, name
      ? h(doc, "span", { class: "fw-chip fw-chip--filter", title: name },
        h(doc, "span", { class: "fw-chip-text" }, name),
        h(doc, "button", { type: "button", class: "fw-chip-x", "data-action": "clear-run-set", "aria-label": `Remove the filter ${name}`, title: "Show every run again", onclick: () => rpc.notify("clear_run_set") }, "×"))
      : []);
  };
  let searchTimer: ReturnType<typeof setTimeout> | undefined;
  search.addEventListener("input", () => {
    if (searchTimer) clearTimeout(searchTimer);
    searchTimer = setTimeout(() => setTraits({ search: search.value, page: 0 }), 250);
  });
  const label = (text: string, control: HTMLElement) =>
    h(doc, "label", { class: "fw-filter" }, h(doc, "span", { class: "fw-label" }, text), control);
  const filters = h(
    doc,
    "div",
    { class: "fw-filters" },
    label("Pipeline", pipelineSel),
    label("Status", statusSel),
    label("Started", windowSel),
    range,
    runSetChip,
    label("Search", search),
    exportBtn,
    count,
  );

  // table
  /** "Started (UTC)" or "Started (local)", as ``time_zone`` says. */
  const zoneLabel = (base: string) => `${base}(${asZone(model.get("time_zone")) === "local" ? "local" : "UTC"})`;
  const relabel = () => {
    for (const el of Array.from(headRow.querySelectorAll<HTMLElement>(".fw-zone-label"))) {
      el.textContent = zoneLabel(el.dataset.label ?? "");
      el.title = `times in ${zoneName(asZone(model.get("time_zone")))}`;
    }
  };
  const headRow = h(doc, "tr");
  const sortButtons = new Map<string, HTMLTableCellElement>();
  for (const col of COLUMNS) {
    if (col.unsortable) {
      headRow.append(h(doc, "th", { scope: "col" }, h(doc, "span", { class: "fw-sort fw-label" }, col.label)));
      continue;
    }
    const th = h(
      doc,
      "th",
      { scope: "col", class: col.numeric ? "fw-num" : null },
      h(
        doc,
        "button",
        {
          type: "button",
          class: "fw-sort",
          onclick: () => {
            const same = model.get("sort_by") === col.key;
            setTraits({ sort_by: col.key, ascending: same ? !model.get("ascending") : false, page: 0 });
          },
        },
        col.label.endsWith("(UTC)") ? h(doc, "span", { class: "fw-zone-label", "data-label": col.label.slice(0, -5) }, zoneLabel(col.label.slice(0, -5))) : col.label,
        h(doc, "span", { class: "fw-sort-mark", "aria-hidden": "true" }),
      ),
    );
    sortButtons.set(col.key, th);
    headRow.append(th);
  }
  const tbody = h(doc, "tbody");
  const colgroup = h(doc, "colgroup", null, COLUMNS.map((c) => h(doc, "col", { style: c.width === "auto" ? null : `width:${c.width}` })));
  relabel();
  const table = h(doc, "table", { class: "fw-table fw-table--fixed", "aria-label": "Runs", style: `min-width:${TABLE_MIN_WIDTH}` }, colgroup, h(doc, "thead", null, headRow), tbody);

  // pagers above and below the rows
  const makePager = (where: string) => {
    const prevBtn = h(doc, "button", { type: "button", class: "fw-btn", "aria-label": `Previous page (${where})` }, "‹ Prev");
    const nextBtn = h(doc, "button", { type: "button", class: "fw-btn", "aria-label": `Next page (${where})` }, "Next ›");
    const info = h(doc, "span", { class: "fw-label" });
    prevBtn.addEventListener("click", () => setTraits({ page: Math.max(0, (model.get("page") ?? 0) - 1) }));
    nextBtn.addEventListener("click", () => setTraits({ page: (model.get("page") ?? 0) + 1 }));
    return { el: h(doc, "div", { class: `fw-pager fw-pager--${where}` }, prevBtn, info, nextBtn), prevBtn, nextBtn, info };
  };
  const pagers = [makePager("top"), makePager("bottom")];
  // the bottom pager keeps the original labels (keyboard users and tests know them)
  pagers[1]!.prevBtn.setAttribute("aria-label", "Previous page");
  pagers[1]!.nextBtn.setAttribute("aria-label", "Next page");

  shell.body.append(filters, pagers[0]!.el, h(doc, "div", { class: "fw-table-wrap" }, table), pagers[1]!.el);

  const open = (row: JobRow) => {
    model.set("selected_run_id", row.run_id);
    model.save_changes();
    rpc.notify("select", { run_id: row.run_id, pipeline: row.pipeline });
  };

  const fillSelect = (sel: HTMLSelectElement, values: string[], current: string | null, allLabel: string) => {
    const wanted = ["", ...values];
    if (current && !values.includes(current)) wanted.push(current);
    const have = Array.from(sel.options).map((o) => o.value);
    if (have.length !== wanted.length || have.some((v, i) => v !== wanted[i])) {
      replaceChildren(sel, wanted.map((v) => h(doc, "option", { value: v }, v || allLabel)));
    }
    sel.value = current ?? "";
  };

  const updateFilters = () => {
    const opts = model.get("_options") ?? { pipelines: [], statuses: [] };
    fillSelect(pipelineSel, opts.pipelines ?? [], model.get("pipeline"), "all pipelines");
    fillSelect(statusSel, opts.statuses ?? [], model.get("status"), "all statuses");
    const custom = model.get("since") || model.get("until");
    windowSel.value = custom ? "custom" : (model.get("last") ?? "");
    if (custom) {
      range.hidden = false;
      labelRange();
      if (doc.activeElement !== fromInput) fromInput.value = isoToLocal(model.get("since"), zoneNow());
      if (doc.activeElement !== toInput) toInput.value = isoToLocal(model.get("until"), zoneNow());
    } else if (doc.activeElement !== fromInput && doc.activeElement !== toInput) {
      range.hidden = true;
    }
    if (doc.activeElement !== search) search.value = model.get("search") ?? "";
    drawRunSet();
    const sortBy = model.get("sort_by");
    const asc = model.get("ascending");
    for (const [key, th] of sortButtons) {
      const active = key === sortBy;
      th.setAttribute("aria-sort", active ? (asc ? "ascending" : "descending") : "none");
      setText(th.querySelector(".fw-sort-mark")!, active ? (asc ? " ▲" : " ▼") : "");
    }
  };

  const cell = (row: JobRow, key: keyof JobRow): HTMLTableCellElement => {
    switch (key) {
      case "status": {
        const st = asStatus(row.status);
        return h(doc, "td", null, h(doc, "span", { class: `fw-pill fw-pill--${st}` }, h(doc, "span", { class: "fw-pill-icon", "aria-hidden": "true" }, STATUS_ICON[st]), st));
      }
      case "pipeline":
        return h(doc, "td", { title: row.pipeline }, row.pipeline);
      case "started_at":
        return h(doc, "td", { class: row[key] ? null : "fw-dim" }, timeElement(doc, row[key], asZone(model.get("time_zone")), true));
      case "finished_at":
        return h(doc, "td", { class: row[key] ? null : "fw-dim" }, absoluteTime(row[key], asZone(model.get("time_zone")), true, false));
      case "attempts":
        return h(doc, "td", { class: "fw-num" }, row.attempts === null || row.attempts === undefined ? "—" : String(row.attempts));
      case "duration_ms":
        return h(doc, "td", { class: "fw-num" }, formatDuration(row.duration_ms));
      case "run_id":
        return h(doc, "td", null, h(doc, "div", { class: "fw-runid-cell" },
          // cut at the start ("…T231500-973a97"): the tail tells runs apart (the pipeline has
          // its own column); <bdi> keeps the id's own order inside the rtl box
          h(doc, "code", { class: "fw-runid", title: row.run_id }, h(doc, "bdi", null, row.run_id)),
          h(doc, "button", {
            type: "button", class: "fw-copy", "aria-label": `Copy run id ${row.run_id}`, title: "Copy the run id",
            onclick: (ev: Event) => {
              ev.stopPropagation(); // copying is not opening
              const nav = doc.defaultView?.navigator;
              const done = () => shell.notice(`✓ copied ${row.run_id}`);
              if (nav?.clipboard?.writeText) {
                nav.clipboard.writeText(row.run_id).then(done, () => selectText(ev));
              } else {
                selectText(ev);
              }
            },
          }, "copy")));
      case "trigger": {
        const word = row.trigger ? (TRIGGER_WORD[row.trigger] ?? row.trigger) : "—";
        return h(doc, "td", { class: row.trigger ? null : "fw-dim", title: row.imported ? "imported through the run log's import path" : null },
          word, row.imported ? h(doc, "span", { class: "fw-imported", "aria-label": "imported" }, " · imp.") : null);
      }
      case "error":
        return row.error
          ? h(doc, "td", { class: "fw-error-line", title: row.error }, row.error)
          : h(doc, "td", { class: "fw-dim" }, "—");
      case "failed_step":
        return row.failed_step
          ? h(doc, "td", { class: "fw-failed-step", title: row.failed_step }, `✗ ${row.failed_step}`)
          : h(doc, "td", { class: "fw-dim" }, "—");
      case "child": {
        const text = lineageText(row);
        const st = row.child ? asStatus(row.child.status) : null;
        const tip = [row.parent_run_id ? `${row.trigger ?? "started"} of run ${row.parent_run_id}` : "", row.child ? `${row.child.trigger ?? "new run"} → run ${row.child.run_id} (${row.child.status})` : ""].filter(Boolean).join("\n");
        return text
          ? h(doc, "td", { class: `fw-lineage${st ? ` fw-lineage--${st}` : ""}`, title: tip }, text)
          : h(doc, "td", { class: "fw-dim" }, "—");
      }
      case "eta":
        {
        const eta = etaInZone(row.eta, asZone(model.get("time_zone")));
        return eta ? h(doc, "td", { class: "fw-eta", title: eta }, eta.replace(/^ETA /, "")) : h(doc, "td", { class: "fw-dim" }, "—");
      }
      default:
        return h(doc, "td", null, String(row[key] ?? ""));
    }
  };

  const selectText = (ev: Event) => {
    const code = (ev.target as Element).parentElement?.querySelector("code");
    const sel = doc.defaultView?.getSelection?.();
    if (!code || !sel) return;
    const r = doc.createRange();
    r.selectNodeContents(code);
    sel.removeAllRanges();
    sel.addRange(r);
    shell.notice("the run id is selected: copy it with Ctrl-C");
  };

  const rowEls = (): HTMLTableRowElement[] => Array.from(tbody.querySelectorAll<HTMLTableRowElement>("tr[data-run-id]"));

  const updateRows = () => {
    const rows = model.get("_rows") ?? [];
    const selected = model.get("selected_run_id");
    const focusedId = (doc.activeElement as HTMLElement | null)?.dataset?.runId;
    if (rows.length === 0) {
      const text = model.get("loading") ? "Loading the run history…" : "No runs match";
      replaceChildren(tbody, h(doc, "tr", null, h(doc, "td", { colspan: COLUMNS.length, class: "fw-empty" }, text)));
    } else {
      // one tab stop for the whole table (arrows move between rows): the focused row,
      // else the picked one, else the first
      const ids = new Set(rows.map((r) => r.run_id));
      const stop = focusedId && ids.has(focusedId) ? focusedId : selected && ids.has(selected) ? selected : rows[0]!.run_id;
      replaceChildren(
        tbody,
        rows.map((row) =>
          h(
            doc,
            "tr",
            {
              tabindex: row.run_id === stop ? 0 : -1,
              "data-run-id": row.run_id,
              "aria-current": row.run_id === selected ? "true" : null,
              title: `run ${row.run_id} — Enter opens it`,
            },
            COLUMNS.map((c) => cell(row, c.key)),
          ),
        ),
      );
      if (focusedId) {
        for (const tr of rowEls()) if (tr.dataset.runId === focusedId) tr.focus();
      }
    }
    const total = model.get("total") ?? 0;
    const page = model.get("page") ?? 0;
    const size = model.get("page_size") ?? 25;
    setText(count, pageSummary(page, size, total) + (model.get("loading") ? " · loading history…" : ""));
    for (const p of pagers) {
      // "0 runs", never "page 1 of 1", for an empty result
      setText(p.info, total <= 0 ? "0 runs" : `Page ${page + 1} of ${pageCount(total, size)}`);
      p.prevBtn.disabled = page <= 0;
      p.nextBtn.disabled = page + 1 >= pageCount(total, size);
    }
    pagers[0]!.el.hidden = total <= size; // the top pager only when there is more than a page
  };

  const rowOf = (ev: Event): HTMLTableRowElement | null =>
    ((ev.target as Element | null)?.closest?.("tr[data-run-id]") as HTMLTableRowElement | null) ?? null;
  const rowData = (tr: HTMLTableRowElement): JobRow | undefined =>
    (model.get("_rows") ?? []).find((r) => r.run_id === tr.dataset.runId);
  tbody.addEventListener("click", (ev) => {
    const tr = rowOf(ev);
    const row = tr && rowData(tr);
    if (row) open(row);
  });
  tbody.addEventListener("keydown", (ev) => {
    const tr = rowOf(ev);
    if (!tr) return;
    if (ev.key === "Enter" || ev.key === " ") {
      ev.preventDefault();
      const row = rowData(tr);
      if (row) open(row);
    } else if (["ArrowDown", "ArrowUp", "Home", "End"].includes(ev.key)) {
      ev.preventDefault();
      const all = rowEls();
      const at = all.indexOf(tr);
      const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: all.length - 1 }[ev.key]!;
      const target = all[Math.max(0, Math.min(all.length - 1, to))];
      if (!target || target === tr) return;
      tr.setAttribute("tabindex", "-1");
      target.setAttribute("tabindex", "0");
      target.focus();
    }
  });

  for (const ev of ["pipeline", "status", "last", "since", "until", "search", "sort_by", "ascending", "_options", "run_set"]) {
    on(`change:${ev}`, updateFilters);
  }
  for (const ev of ["_rows", "total", "page", "page_size", "selected_run_id", "loading"]) on(`change:${ev}`, updateRows);
  on("change:time_zone", () => {
    relabel();
    labelRange();
    updateFilters();
    updateRows();
  });
  updateFilters();
  updateRows();
  const clock = setInterval(() => refreshTimes(tbody), 15_000);

  return () => {
    clearInterval(clock);
    if (searchTimer) clearTimeout(searchTimer);
    view.dispose();
  };
}

export default { render };
