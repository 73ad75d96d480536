// The UI's JavaScript payload, gzip-compressed as a browser receives it: what index.html loads before
// anything renders (the entry and its preloads), then each page's own chunks on top of that.
import { readFileSync, readdirSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join, resolve } from "node:path";

const dist = resolve(process.argv[2] ?? "../src/harvest/api/static");
const html = readFileSync(join(dist, "index.html"), "utf8");
const gz = (file) => gzipSync(readFileSync(join(dist, file)), { level: 9 }).length;
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`;

const initial = [...html.matchAll(/<(?:script[^>]*src|link[^>]*rel="modulepreload"[^>]*href)="\/?([^"]+\.js)"/g)].map(
  (m) => m[1],
);
const css = [...html.matchAll(/<link[^>]*rel="stylesheet"[^>]*href="\/?([^"]+\.css)"/g)].map((m) => m[1]);
const initialJs = initial.reduce((sum, f) => sum + gz(f), 0);
const initialCss = css.reduce((sum, f) => sum + gz(f), 0);
const all = readdirSync(join(dist, "assets")).filter((f) => f.endsWith(".js"));
const totalJs = all.reduce((sum, f) => sum + gz(join("assets", f)), 0);

console.log(`initial JS (gzip): ${kib(initialJs)} in ${initial.length} files: ${initial.join(", ")}`);
console.log(`initial CSS (gzip): ${kib(initialCss)}`);
console.log(`all JS chunks (gzip): ${kib(totalJs)} in ${all.length} files (pages load their own on first visit)`);
for (const f of all.map((f) => [f, gz(join("assets", f))]).sort((a, b) => b[1] - a[1]).slice(0, 8)) {
  console.log(`  ${f[0]}  ${kib(f[1])}`);
}
console.log(
  `RESULT initial_js_gzip_kib=${(initialJs / 1024).toFixed(1)} initial_css_gzip_kib=${(initialCss / 1024).toFixed(1)} ` +
    `all_js_gzip_kib=${(totalJs / 1024).toFixed(1)} chunks=${all.length}`,
);
