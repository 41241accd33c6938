// Render TeX to HTML at docs build time with KaTeX, so the site needs no script to show math.
// Usage: node katex_render.js PATH/TO/katex/package < formulas.json > rendered.json
// stdin: [{"tex": "...", "display": true|false}, ...]
// stdout: [{"html": "..."} | {"error": "..."}, ...] in the same order.
"use strict";
const path = require("path");
const katex = require(path.resolve(process.argv[2]));

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const out = JSON.parse(input).map(({ tex, display }) => {
    try {
      // throwOnError: a typo in the docs fails the build instead of showing red TeX.
      return { html: katex.renderToString(tex, { displayMode: display, throwOnError: true,
                                                 output: "htmlAndMathml", strict: "error" }) };
    } catch (err) {
      return { error: String(err.message || err) };
    }
  });
  process.stdout.write(JSON.stringify(out));
});
