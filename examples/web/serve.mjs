// The page's static server: index.html, app.css and the compiled dist/*.js, nothing else, on
// loopback. Node's standard library only. Several ports at once give several origins for the same
// page (the browser test loads it from a listed and from an unlisted origin).
//
// Usage: node serve.mjs [--host 127.0.0.1] [--port 5173]...   (PORT in the environment also works)

import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({
  options: {
    host: { type: "string", default: "127.0.0.1" },
    port: { type: "string", multiple: true },
  },
});
const ports = values.port?.length ? values.port : [process.env.PORT || "5173"];

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};
// What the page is made of; any other path is a 404, so src/ and node_modules stay private.
const SERVED = /^\/(?:index\.html|app\.css|dist\/[\w-]+\.js(?:\.map)?)$/;

async function handle(request, response) {
  const path = new URL(request.url, "http://page").pathname;
  const file = path === "/" ? "/index.html" : path;
  if (request.method !== "GET" && request.method !== "HEAD") {
    response.writeHead(405, { Allow: "GET, HEAD" }).end();
    return;
  }
  if (!SERVED.test(file)) {
    response.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
    return;
  }
  try {
    const body = await readFile(join(root, file));
    response.writeHead(200, {
      "Content-Type": TYPES[file.slice(file.lastIndexOf("."))],
      "Cache-Control": "no-cache",
      "X-Content-Type-Options": "nosniff",
    });
    response.end(request.method === "HEAD" ? undefined : body);
  } catch {
    const hint = file.startsWith("/dist/") ? " (run `npm run build` first)" : "";
    response.writeHead(404, { "Content-Type": "text/plain" }).end(`not found${hint}\n`);
  }
}

for (const port of ports) {
  const server = createServer((request, response) => {
    handle(request, response).catch(() => response.writeHead(500).end());
  });
  server.listen(Number(port), values.host, () => {
    console.log(`page: http://${values.host}:${server.address().port}/`);
  });
}
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
