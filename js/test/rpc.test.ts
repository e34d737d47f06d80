import assert from "node:assert/strict";
import { test } from "node:test";
import { RpcError, createRpc } from "../src/lib/rpc";
import { FakeModel } from "./helpers";

test("a call sends {kind, id, ...} and resolves with the reply's response", async () => {
  const model = new FakeModel({});
  const rpc = createRpc(model.asModel(), 1000);
  const p = rpc.call("restart", { run_id: "r1", from_step: "b" });
  const msg = model.sent[0]!;
  assert.equal(msg.kind, "restart");
  assert.equal(msg.run_id, "r1");
  assert.equal(typeof msg.id, "string");
  model.emitCustom({ kind: "other", id: "unrelated", response: 1 });
  model.emitCustom({ kind: "restart", id: msg.id, response: { new_run_id: "r2" } });
  assert.deepEqual(await p, { new_run_id: "r2" });
  rpc.dispose();
  assert.equal(model.listenerCount(), 0);
});

test("an error reply rejects with the server's detail", async () => {
  const model = new FakeModel({});
  const rpc = createRpc(model.asModel(), 1000);
  const p = rpc.call("rerun", { run_id: "r1" });
  model.emitCustom({ kind: "rerun", id: model.sent[0]!.id, error: "run r1 is still running" });
  await assert.rejects(p, (err: unknown) => err instanceof RpcError && err.message === "run r1 is still running");
  rpc.dispose();
});

test("no reply means a timeout error, and dispose rejects what is pending", async () => {
  const model = new FakeModel({});
  const rpc = createRpc(model.asModel(), 20);
  await assert.rejects(rpc.call("resume", { run_id: "r1" }), /no reply from the kernel/);
  const rpc2 = createRpc(model.asModel(), 10_000);
  const pending = rpc2.call("resume", {});
  rpc2.dispose();
  await assert.rejects(pending, /closed/);
  rpc.dispose();
});

test("notify sends without an id", () => {
  const model = new FakeModel({});
  const rpc = createRpc(model.asModel());
  rpc.notify("back");
  assert.deepEqual(model.sent, [{ kind: "back" }]);
  rpc.dispose();
});
