// A fake anywidget model (get/set/on/off/save_changes/send) and a happy-dom document, so
// each widget renders in node exactly as it would in the notebook.
import type { AnyModel } from "@anywidget/types";
import { Window } from "happy-dom";

type Handler = (...args: unknown[]) => void;

export class FakeModel<T extends Record<string, unknown>> {
  state: T;
  sent: Record<string, unknown>[] = [];
  saves = 0;
  private handlers = new Map<string, Set<Handler>>();

  constructor(state: T) {
    this.state = { ...state };
  }

  get<K extends keyof T>(key: K): T[K] {
    return this.state[key];
  }

  set<K extends keyof T>(key: K, value: T[K]): void {
    this.state[key] = value;
    this.emit(`change:${String(key)}`);
  }

  on(event: string, cb: Handler): void {
    if (!this.handlers.has(event)) this.handlers.set(event, new Set());
    this.handlers.get(event)!.add(cb);
  }

  off(event?: string | null, cb?: Handler | null): void {
    if (!event) {
      this.handlers.clear();
      return;
    }
    if (!cb) this.handlers.delete(event);
    else this.handlers.get(event)?.delete(cb);
  }

  save_changes(): void {
    this.saves += 1;
  }

  send(content: Record<string, unknown>): void {
    this.sent.push(content);
  }

  /** Simulate the kernel changing a trait. */
  update(values: Partial<T>): void {
    for (const [k, v] of Object.entries(values)) this.set(k as keyof T, v as T[keyof T]);
  }

  /** Simulate a custom message from the kernel. */
  emitCustom(msg: unknown): void {
    for (const cb of this.handlers.get("msg:custom") ?? []) cb(msg, []);
  }

  emit(event: string): void {
    for (const cb of this.handlers.get(event) ?? []) cb();
  }

  listenerCount(): number {
    let n = 0;
    for (const set of this.handlers.values()) n += set.size;
    return n;
  }

  asModel<M extends Record<string, unknown>>(): AnyModel<M> {
    return this as unknown as AnyModel<M>;
  }
}

export function newDocument(): { window: Window; document: Document; el: HTMLElement } {
  const window = new Window({ url: "http://127.0.0.1/" });
  const document = window.document as unknown as Document;
  const el = document.createElement("div");
  document.body.appendChild(el);
  return { window, document, el };
}

export const BASE = { connected: true, connection_error: "", error: "", theme: "auto" };

export const EVIL = "<img src=x onerror=alert(1)>";

/** Let pending promise callbacks run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

type RenderFn = (props: { model: AnyModel; el: HTMLElement; signal: AbortSignal; host: never; experimental: never }) => unknown;

/** Call a widget module's render and return its cleanup. */
export async function mount(
  widget: { render: unknown },
  model: FakeModel<Record<string, unknown>>,
  el: HTMLElement,
): Promise<() => void> {
  const fn = widget.render as RenderFn;
  const cleanup = await fn({
    model: model.asModel(),
    el,
    signal: new AbortController().signal,
    host: undefined as never,
    experimental: undefined as never,
  });
  return (cleanup as () => void) ?? (() => {});
}
