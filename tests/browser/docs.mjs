// The gateway's /docs page (Swagger UI, embedded in the binary) in headless Chromium, offline.
//
// Env:
//   GATEWAY_URL  base URL of a running gateway (default http://127.0.0.1:8080)
//   SCREENSHOT   where to save a full-page PNG (default target/docs.png)
//   CHROMIUM     the browser (default /usr/bin/chromium, Debian's; Playwright never downloads one)
//
// Every request to another origin than GATEWAY_URL's is aborted and recorded: the page must
// render from the gateway alone. Checks: the 5 operations (methods and paths), the title,
// the Authorize button with a Basic scheme, listPorts' query parameters, no page error, no
// failed same-origin request, no attempted request elsewhere. Exits 1 on any failure.

import { mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { check, fail, launchChromium, runTest } from "./harness.mjs";

const base = (process.env.GATEWAY_URL || "http://127.0.0.1:8080").replace(/\/+$/, "");
const screenshot = resolve(process.env.SCREENSHOT || "target/docs.png");
const origin = new URL(base).origin;
const OVERALL_TIMEOUT_MS = 180_000;
const STEP_TIMEOUT_MS = 20_000;

const EXPECTED_OPERATIONS = [
  "GET /vmrest/portgroups",
  "GET /vmrest/portgroups/{objectId}",
  "PUT /vmrest/portgroups/{objectId}",
  "GET /vmrest/ports",
  "GET /vmrest/ports/{objectId}",
];
const LIST_PORTS_PARAMETERS = ["query", "sort", "rowsPerPage", "pageNumber"];

const blocked = []; // requests to another origin, aborted
const sameOriginFailed = []; // same-origin requests that failed or answered >= 400
const pageErrors = [];
const consoleErrors = [];
let requests = 0;

async function run() {
  const browser = await launchChromium();
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);

  // The network is cut off except for the gateway.
  await context.route("**/*", (route) => {
    const url = route.request().url();
    let requestOrigin;
    try {
      const parsed = new URL(url);
      if (parsed.protocol === "data:" || parsed.protocol === "blob:") return route.continue();
      requestOrigin = parsed.origin;
    } catch {
      requestOrigin = null;
    }
    if (requestOrigin === origin) return route.continue();
    blocked.push(url);
    return route.abort("blockedbyclient");
  });

  const page = await context.newPage();
  page.on("pageerror", (error) => pageErrors.push(String(error?.stack || error)));
  page.on("console", (message) => {
    if (message.type() === "error") consoleErrors.push(message.text());
  });
  page.on("request", () => requests++);
  page.on("requestfailed", (request) => {
    if (new URL(request.url()).origin === origin) {
      sameOriginFailed.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText}`);
    }
  });
  page.on("response", (response) => {
    if (response.status() >= 400 && new URL(response.url()).origin === origin) {
      sameOriginFailed.push(`${response.request().method()} ${response.url()}: HTTP ${response.status()}`);
    }
  });

  const response = await page.goto(`${base}/docs`, { waitUntil: "load" });
  check(response?.status() === 200, `GET /docs answered ${response?.status()}, not 200`);
  const contentType = response?.headers()["content-type"] || "";
  check(contentType.startsWith("text/html"), `GET /docs has Content-Type "${contentType}", not text/html`);

  // The operations render once /openapi.json is fetched and resolved.
  // Swagger UI shows an errors panel instead when the document cannot be fetched or parsed.
  try {
    await page.waitForSelector(".opblock, .errors-wrapper", { timeout: STEP_TIMEOUT_MS });
    await page.waitForFunction(
      (n) => document.querySelectorAll(".opblock").length >= n,
      EXPECTED_OPERATIONS.length,
      { timeout: 5_000 },
    );
  } catch (error) {
    fail(`the operations did not render: ${error.message.split("\n")[0]}`);
  }

  const operations = await page.$$eval(".opblock", (blocks) =>
    blocks.map((block) => {
      const clean = (s) => (s || "").replace(/[\u200b\s]+/g, " ").trim();
      const method = clean(block.querySelector(".opblock-summary-method")?.textContent);
      const pathEl = block.querySelector(".opblock-summary-path");
      const path = clean(pathEl?.getAttribute("data-path") || pathEl?.textContent).replace(/ /g, "");
      return `${method.toUpperCase()} ${path}`;
    }),
  );
  const sorted = (list) => [...list].sort();
  check(
    JSON.stringify(sorted(operations)) === JSON.stringify(sorted(EXPECTED_OPERATIONS)),
    `operations shown: [${operations.join(", ")}], expected exactly [${EXPECTED_OPERATIONS.join(", ")}]`,
  );

  const errorsPanel = (await page.locator(".errors-wrapper").allInnerTexts()).join(" ").replace(/\s+/g, " ").trim();
  check(errorsPanel === "", `Swagger UI shows an errors panel: "${errorsPanel}"`);

  const title = await page.title();
  check(title.includes("cupi-gateway"), `page title "${title}" does not contain "cupi-gateway"`);
  const infoTitle = (await page.locator(".info .title").first().textContent().catch(() => "")) || "";
  check(infoTitle.includes("cupi-gateway"), `info title "${infoTitle.trim()}" does not contain "cupi-gateway"`);

  // The Authorize button, and its dialog shows the Basic scheme.
  const authorize = page.locator("button.authorize").first();
  let authScheme = "";
  if (check((await authorize.count()) === 1, "no Authorize button")) {
    await authorize.click();
    const modal = page.locator(".modal-ux");
    await modal.waitFor({ state: "visible" });
    authScheme = (await modal.locator(".auth-container h4").allInnerTexts()).join(" | ");
    check(/basic/i.test(authScheme), `the Authorize dialog shows no Basic scheme: "${authScheme}"`);
    await modal.locator("button.close-modal").click();
    await modal.waitFor({ state: "detached" });
  }

  // Expand listPorts and read its parameters.
  const listPorts = page.locator(".opblock.opblock-get", {
    has: page.locator('.opblock-summary-path[data-path="/vmrest/ports"]'),
  });
  let parameters = [];
  if (check((await listPorts.count()) === 1, "listPorts (GET /vmrest/ports) not found once")) {
    await listPorts.locator(".opblock-summary").first().click();
    await listPorts.locator(".parameters tr[data-param-name]").first().waitFor({ state: "visible" });
    parameters = await listPorts.locator(".parameters tr[data-param-name]").evaluateAll((rows) =>
      rows.map((row) => row.getAttribute("data-param-name")),
    );
    for (const name of LIST_PORTS_PARAMETERS) {
      check(parameters.includes(name), `listPorts does not show parameter "${name}" (shown: ${parameters.join(", ")})`);
    }
  }

  mkdirSync(dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });

  // Let late requests (if any) show up before judging the network.
  await page.waitForLoadState("networkidle", { timeout: 5_000 }).catch(() => {});

  check(blocked.length === 0, `requests to another origin were attempted (aborted): ${blocked.join(", ")}`);
  check(pageErrors.length === 0, `page errors: ${pageErrors.join(" | ")}`);
  check(sameOriginFailed.length === 0, `failed same-origin requests: ${sameOriginFailed.join(", ")}`);

  console.log(`docs page: ${base}/docs (title "${title}")`);
  console.log(`  operations (${operations.length}): ${operations.join(", ")}`);
  console.log(`  authorize: ${authScheme || "-"}`);
  console.log(`  listPorts parameters: ${parameters.join(", ")}`);
  console.log(`  requests: ${requests} to ${origin}, ${blocked.length} to other origins (aborted)`);
  if (consoleErrors.length) console.log(`  console errors (not failing): ${consoleErrors.join(" | ")}`);
  console.log(`  screenshot: ${screenshot}`);
}

await runTest("docs.mjs", OVERALL_TIMEOUT_MS, run);
