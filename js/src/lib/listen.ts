// Model listeners a view removes all at once in its cleanup.
import type { AnyModel } from "@anywidget/types";

export interface Listeners {
  /** Call ``fn`` on each of ``events`` ("change:trait", ...) until ``dispose``. */
  on(events: string | readonly string[], fn: () => void): void;
  /** Remove every listener added through ``on``. */
  dispose(): void;
}

/** A set of ``model`` listeners with one ``dispose``. */
export function listen(model: AnyModel<any>): Listeners {
  const added: [string, () => void][] = [];
  return {
    on(events, fn) {
      for (const ev of typeof events === "string" ? [events] : events) {
        model.on(ev, fn);
        added.push([ev, fn]);
      }
    },
    dispose() {
      for (const [ev, fn] of added.splice(0)) model.off(ev, fn);
    },
  };
}
