// Builds one self-contained ESM bundle (plus its CSS) per widget into ../flowwidgets/static/.
// No code splitting: anywidget loads each bundle as one string and cannot fetch sibling chunks.
//   node build.mjs            production bundles (minified)
//   node build.mjs --watch    rebuild on change (unminified, with inline source maps)
//   node build.mjs --tests    bundle test/*.test.ts for node and run them with `node --test`
import { spawnSync } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const outdir = join(here, "..", "flowwidgets", "static");

/** The widgets; each name is a built file pair static/<name>.js + static/<name>.css. */
export const WIDGETS = [
  "cards", "jobs-table", "run-view", "dashboard", "timeline", "history", "run-compare",
];

const args = new Set(process.argv.slice(2));

if (args.has("--tests")) {
  const testdir = join(here, "test");
  // Under node_modules (git-ignored) so the bundled tests never land in the work tree.
  const testout = join(here, "node_modules", ".cache", "fw-tests");
  rmSync(testout, { recursive: true, force: true });
  const entries = readdirSync(testdir).filter((f) => f.endsWith(".test.ts"));
  await esbuild.build({
    entryPoints: entries.map((f) => join(testdir, f)),
    outdir: testout,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    loader: { ".css": "empty" },
    logLevel: "warning",
  });
  const files = entries.map((f) => join(testout, f.replace(/\.ts$/, ".mjs")));
  const run = spawnSync(process.execPath, ["--test", ...files], { stdio: "inherit" });
  process.exit(run.status ?? 1);
}

const options = {
  entryPoints: Object.fromEntries(WIDGETS.map((w) => [w, join(here, "src", "widgets", `${w}.ts`)])),
  outdir,
  bundle: true,
  splitting: false,
  format: "esm",
  target: "es2020",
  minify: !args.has("--watch"),
  sourcemap: args.has("--watch") ? "inline" : false,
  legalComments: "none",
  logLevel: "info",
};

if (args.has("--watch")) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
