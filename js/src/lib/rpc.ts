// Buttons are messages: the view sends {kind, id, ...} and the kernel replies
// {kind, id, response} or {kind, id, error}. A reply that never comes is a timeout error.
import type { AnyModel } from "@anywidget/types";

export interface Reply {
  kind: string;
  id: string;
  response?: unknown;
  error?: string;
}

export class RpcError extends Error {
  constructor(
    message: string,
    readonly kind: string,
  ) {
    super(message);
    this.name = "RpcError";
  }
}

export interface Rpc {
  /** Send ``{kind, id, ...payload}``; resolves with ``response`` or rejects with the error. */
  call(kind: string, payload?: Record<string, unknown>): Promise<unknown>;
  /** Send a message that expects no reply (navigation, selection). */
  notify(kind: string, payload?: Record<string, unknown>): void;
  /** Stop listening; pending calls are rejected. */
  dispose(): void;
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

let counter = 0;

/** An RPC channel over ``model.send`` / ``msg:custom`` with a reply timeout (ms). */
export function createRpc(model: AnyModel, timeoutMs = 30_000): Rpc {
  const pending = new Map<string, Pending>();
  const onMessage = (msg: unknown) => {
    if (!msg || typeof msg !== "object") return;
    const reply = msg as Partial<Reply>;
    if (typeof reply.id !== "string") return;
    const entry = pending.get(reply.id);
    if (!entry) return;
    pending.delete(reply.id);
    clearTimeout(entry.timer);
    if (typeof reply.error === "string" && reply.error) {
      entry.reject(new RpcError(reply.error, String(reply.kind ?? "")));
    } else {
      entry.resolve(reply.response);
    }
  };
  model.on("msg:custom", onMessage);
  return {
    call(kind, payload = {}) {
      counter += 1;
      const id = `${kind}-${Date.now().toString(36)}-${counter}`;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(
            new RpcError(
              `no reply from the kernel to "${kind}" after ${Math.round(timeoutMs / 1000)} s ` +
                "(is the kernel busy or gone?)",
              kind,
            ),
          );
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        model.send({ ...payload, kind, id });
      });
    },
    notify(kind, payload = {}) {
      model.send({ ...payload, kind });
    },
    dispose() {
      model.off("msg:custom", onMessage);
      for (const [id, entry] of pending) {
        clearTimeout(entry.timer);
        entry.reject(new RpcError("the view was closed", id));
      }
      pending.clear();
    },
  };
}
