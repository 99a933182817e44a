// The reference frontend (examples/web) in headless Chromium, against the real gateway and its
// simulator, with the page on another origin than the gateway: real CORS, real preflights.
//
// Env (frontend.sh sets them all):
//   GATEWAY_URL     the gateway, started with --cors-allow-origin PAGE_URL
//   PAGE_URL        the page's server on the allowed origin
//   OTHER_PAGE_URL  the same page on an origin the gateway does not list
//   GATEWAY_LOG     the gateway's JSON log, to see which requests reached it
//   SCREENSHOT      where to save the full-page PNG (default target/frontend.png); the refused
//                   page goes next to it as *-cors-refused.png
//   CHROMIUM        the browser (default /usr/bin/chromium; Playwright never downloads one)
//
// Checks, through the page, each cross-checked against the gateway directly: sign-in (a wrong
// password is refused), the list and its total (received compressed), paging, search by
// display-name prefix, one group's ports (filtered), an MWI code edit that survives a reload, a
// wrong-typed value refused by the gateway with the message under its field, and the page on an
// unlisted origin refused by the browser. No request routing: Playwright answers CORS preflights
// itself while it intercepts, which would hide the gateway's. Instead Chromium gets a proxy that
// does not exist for all but loopback, so nothing leaves the machine, and any request to a third
// origin fails the test.

import { mkdirSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { check, fail, launchChromium, runTest } from "./harness.mjs";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (run frontend.sh)`);
  return value.replace(/\/+$/, "");
};
const gateway = env("GATEWAY_URL");
const pageUrl = env("PAGE_URL");
const otherUrl = env("OTHER_PAGE_URL");
const gatewayLog = env("GATEWAY_LOG");
const screenshot = resolve(process.env.SCREENSHOT || "target/frontend.png");
const refusedScreenshot = screenshot.replace(/\.png$/, "") + "-cors-refused.png";
const OVERALL_TIMEOUT_MS = 210_000;
const STEP_TIMEOUT_MS = 15_000;
const AUTHORIZATION = `Basic ${Buffer.from("admin:password").toString("base64")}`;
const SEARCH = "Generated-0004";

const thirdOrigin = []; // requests to neither the page's origins nor the gateway's
const pageErrors = [];

/** The gateway asked directly (from Node, no CORS), to compare with what the page shows. */
async function direct(path) {
  const response = await fetch(gateway + path, { headers: { Authorization: AUTHORIZATION, Accept: "application/json" } });
  if (!response.ok) throw new Error(`GET ${path}: ${response.status} ${await response.text()}`);
  return response.json();
}
const q = (value) => encodeURIComponent(value);

/** The gateway's access-log lines so far: {method, path, status}. */
function accessLog() {
  return readFileSync(gatewayLog, "utf8")
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line))
    .filter((entry) => entry.target === "cupi_gateway::access")
    .map((entry) => entry.fields);
}

async function until(what, predicate, timeout = STEP_TIMEOUT_MS) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    last = await predicate();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const text = async (locator) => ((await locator.textContent()) || "").trim();
const names = (page) => page.getByTestId("group-open").allInnerTexts();

async function signIn(page, password) {
  await page.getByTestId("login-username").fill("admin");
  await page.getByTestId("login-password").fill(password);
  await page.getByTestId("login-submit").click();
}

function watch(page, label, consoleLines) {
  page.on("pageerror", (error) => pageErrors.push(`${label}: ${error?.stack || error}`));
  page.on("console", (message) => consoleLines.push(`${message.type()}: ${message.text()}`));
}

async function run() {
  // Loopback always bypasses a proxy in Chromium; everything else goes to this dead one.
  const browser = await launchChromium({ args: ["--proxy-server=http://127.0.0.1:9"] });
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  context.setDefaultTimeout(STEP_TIMEOUT_MS);
  const ours = new Set([new URL(gateway).origin, new URL(pageUrl).origin, new URL(otherUrl).origin]);
  context.on("request", (request) => {
    const url = new URL(request.url());
    if (!["data:", "blob:"].includes(url.protocol) && !ours.has(url.origin)) thirdOrigin.push(request.url());
  });

  // ---- the page on the allowed origin ----
  const allowedConsole = [];
  const page = await context.newPage();
  watch(page, "allowed origin", allowedConsole);
  await page.goto(`${pageUrl}/?gateway=${q(gateway)}`);
  await page.locator("html[data-ready=true]").waitFor({ state: "attached" });
  check((await page.getByTestId("login-gateway").inputValue()) === gateway, "the login form does not show the gateway from ?gateway=");

  // A wrong password: the gateway's 401 comes back to the form.
  await signIn(page, "wrong");
  const loginError = await until("the login error", async () => text(page.getByTestId("login-error")));
  check(/401/.test(loginError), `wrong password: login error "${loginError}" does not mention 401`);
  check(await page.locator("#app").isHidden(), "wrong password: the app is shown anyway");

  // The list and its total.
  const listResponse = page.waitForResponse((r) => r.request().method() === "GET" && /\/vmrest\/portgroups\?/.test(r.url()) && r.ok());
  await signIn(page, "password");
  await until("10 rows", async () => (await page.getByTestId("group-row").count()) === 10);

  // That list came compressed: Chromium offers br, gzip and zstd, and ten groups are over the
  // gateway's 1 KiB threshold. Fewer bytes crossed the wire than the page decoded.
  const list = await listResponse;
  const encoding = list.headers()["content-encoding"];
  const { responseBodySize: wireBytes } = await list.request().sizes();
  const decodedBytes = (await list.body()).length;
  console.log(`  the list: ${wireBytes} bytes on the wire (${encoding}), ${decodedBytes} decoded`);
  check(["br", "gzip", "zstd"].includes(encoding), `the list came with Content-Encoding ${encoding}, not br, gzip or zstd`);
  check(wireBytes > 0 && wireBytes < decodedBytes, `the list: ${wireBytes} bytes on the wire, not fewer than the ${decodedBytes} decoded`);
  const caption = await text(page.getByTestId("groups-total"));
  const total = Number(/of (\d+) port groups/.exec(caption)?.[1]);
  const expectedTotal = (await direct("/vmrest/portgroups?rowsPerPage=0"))["@total"];
  check(total === expectedTotal && total === 61, `list total: page says "${caption}", gateway says ${expectedTotal}, expected 61`);
  const page1 = await names(page);
  check(await page.getByTestId("page-prev").isDisabled(), "page 1: Previous is not disabled");

  // Paging: page 2 shows the next ten, as the gateway has them.
  await page.getByTestId("page-next").click();
  await until("page 2", async () => (await text(page.getByTestId("page-info"))) === "Page 2 of 7");
  const page2 = await names(page);
  const expected2 = (await direct("/vmrest/portgroups?sort=(DisplayName%20asc)&rowsPerPage=10&pageNumber=2")).PortGroup.map((g) => g.DisplayName);
  check(page2.length === 10 && !page2.some((name) => page1.includes(name)), `page 2 rows [${page2}] overlap page 1 [${page1}]`);
  check(JSON.stringify(page2) === JSON.stringify(expected2), `page 2 rows [${page2}], gateway's [${expected2}]`);
  check(page.url().includes("page=2"), `the URL does not keep the page: ${page.url()}`);

  // Search by display-name prefix.
  await page.getByTestId("search-input").fill(SEARCH);
  await page.getByTestId("search-submit").click();
  await until("the search result", async () => (await text(page.getByTestId("groups-total"))).includes(SEARCH));
  const found = await names(page);
  const expectedFound = (await direct(`/vmrest/portgroups?query=${q(`(DisplayName startswith ${SEARCH})`)}&rowsPerPage=0`))["@total"];
  check(found.length > 0 && found.every((name) => name.startsWith(SEARCH)), `search "${SEARCH}" shows [${found}]`);
  check(found.length === expectedFound, `search "${SEARCH}": ${found.length} rows, the gateway counts ${expectedFound}`);
  check((await text(page.getByTestId("page-info"))) === "Page 1 of 1", "search: not back on page 1 of 1");

  // One group and its ports, filtered by MediaPortGroupObjectId.
  const row = page.getByTestId("group-row").first();
  const groupName = await text(row.getByTestId("group-open"));
  const groupId = await row.getAttribute("data-object-id");
  await row.getByTestId("group-open").click();
  await until("the group's detail", async () => (await text(page.getByTestId("detail-title"))) === groupName);
  await until("its ports", async () => (await page.getByTestId("port-row").count()) > 0);
  const portGroups = await page.getByTestId("port-row").evaluateAll((rows) => rows.map((r) => r.dataset.portGroup));
  const expectedPorts = (await direct(`/vmrest/ports?query=${q(`(MediaPortGroupObjectId is ${groupId})`)}`))["@total"];
  const allPorts = (await direct("/vmrest/ports?rowsPerPage=0"))["@total"];
  check(portGroups.every((id) => id === groupId), `ports of ${groupName}: some belong to another group (${portGroups})`);
  check(portGroups.length === expectedPorts && expectedPorts < allPorts, `ports of ${groupName}: ${portGroups.length} shown, gateway has ${expectedPorts} of ${allPorts}`);

  // Edit both codes; the list and the gateway have them, and they survive a reload.
  const before = await direct(`/vmrest/portgroups/${groupId}`);
  const random = () => String(10000 + Math.floor(Math.random() * 90000));
  let newOn = random();
  while (newOn === before.MwiOnCode) newOn = random();
  const newOff = `${newOn.slice(0, 3)}9`;
  await page.getByTestId("input-MwiOnCode").fill(newOn);
  await page.getByTestId("input-MwiOffCode").fill(newOff);
  await page.getByTestId("save").click();
  await until("Saved.", async () => (await text(page.getByTestId("save-status"))) === "Saved.");
  const listed = await page.locator(`[data-testid=group-row][data-object-id="${groupId}"] td`).allInnerTexts();
  check(listed.includes(newOn) && listed.includes(newOff), `the list row shows [${listed}], not ${newOn}/${newOff}`);
  const stored = await direct(`/vmrest/portgroups/${groupId}`);
  check(stored.MwiOnCode === newOn && stored.MwiOffCode === newOff, `the gateway has ${stored.MwiOnCode}/${stored.MwiOffCode}, not ${newOn}/${newOff}`);

  await page.reload();
  await page.locator("html[data-ready=true]").waitFor({ state: "attached" });
  check(await page.getByTestId("login-form").isVisible(), "after reload: no sign-in form (credentials are kept in memory only)");
  await signIn(page, "password");
  await until("the group again", async () => (await text(page.getByTestId("detail-title"))) === groupName);
  const reloadedOn = await page.getByTestId("input-MwiOnCode").inputValue();
  const reloadedOff = await page.getByTestId("input-MwiOffCode").inputValue();
  check(reloadedOn === newOn && reloadedOff === newOff, `after reload the form shows ${reloadedOn}/${reloadedOff}, not ${newOn}/${newOff}`);
  check((await page.getByTestId("search-input").inputValue()) === SEARCH, "after reload the search is gone");

  // A value of the wrong type, and a read-only field: the gateway refuses the PUT (400), each
  // error naming its field; the page shows MwiOnCode's under its input, the other in the list.
  // (The document gives MWI codes no pattern or length, so no text typed in the inputs is refused.)
  await page.getByText("Send a raw JSON body").click();
  await page.getByTestId("raw-body").fill('{"MwiOnCode": 12345, "DisplayName": "renamed"}');
  const refusal = page.waitForResponse((r) => r.request().method() === "PUT");
  await page.getByTestId("raw-send").click();
  const refused = await refusal;
  const refusedBody = await refused.json();
  const fields = refusedBody.errors?.map((e) => `${e.code}:${e.field}`) ?? [];
  check(refused.status() === 400, `bad value: the gateway answered ${refused.status()}, not 400`);
  check(fields.includes("invalid_type:MwiOnCode") && fields.includes("read_only_field:DisplayName"), `bad value: the gateway's errors ${fields}`);
  const fieldError = await until("MwiOnCode's error", async () => text(page.getByTestId("error-MwiOnCode")));
  check(/MwiOnCode must be .*string.* not an integer/.test(fieldError), `MwiOnCode's error reads "${fieldError}"`);
  check((await page.getByTestId("input-MwiOnCode").getAttribute("aria-invalid")) === "true", "MwiOnCode is not marked aria-invalid");
  check((await text(page.getByTestId("error-MwiOffCode"))) === "", "MwiOffCode shows an error it was not given");
  const general = await text(page.getByTestId("form-errors"));
  check(/DisplayName.*read-only/.test(general), `the form's other errors read "${general}"`);
  const unchanged = await direct(`/vmrest/portgroups/${groupId}`);
  check(unchanged.MwiOnCode === newOn && unchanged.DisplayName === groupName, "the refused PUT changed the group");

  // The preflights the page caused reached the gateway itself.
  const preflights = accessLog().filter((e) => e.method === "OPTIONS" && e.path.startsWith("/vmrest/"));
  check(preflights.length > 0 && preflights.every((e) => e.status === 200), `preflights at the gateway: ${JSON.stringify(preflights)}`);

  mkdirSync(dirname(screenshot), { recursive: true });
  await page.screenshot({ path: screenshot, fullPage: true });
  check(!allowedConsole.some((line) => /CORS/i.test(line)), `CORS complaints on the allowed origin: ${allowedConsole.join(" | ")}`);

  // ---- the same page on an origin the gateway does not list ----
  const mark = accessLog().length;
  const refusedConsole = [];
  const failedRequests = [];
  const other = await context.newPage();
  watch(other, "unlisted origin", refusedConsole);
  other.on("requestfailed", (r) => failedRequests.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  await other.goto(`${otherUrl}/?gateway=${q(gateway)}`);
  await other.locator("html[data-ready=true]").waitFor({ state: "attached" });
  await signIn(other, "password");
  const banner = other.getByTestId("error-banner");
  await banner.waitFor({ state: "visible" });
  const bannerText = await text(banner);
  check(bannerText.includes("does not allow this page's origin") && bannerText.includes(otherUrl), `unlisted origin: the banner reads "${bannerText}"`);
  check(await other.locator("#app").isHidden(), "unlisted origin: the list is shown");
  const failedList = failedRequests.find((line) => line.startsWith(`GET ${gateway}/vmrest/portgroups`));
  check(failedList, `unlisted origin: no failed GET /vmrest/portgroups seen (failed: ${failedRequests.join(" | ")})`);
  const corsLine = await until("Chromium's CORS message", async () => refusedConsole.find((line) => /blocked by CORS policy/.test(line)), 5_000).catch(() => undefined);
  check(corsLine, `unlisted origin: Chromium logged no CORS refusal (console: ${refusedConsole.join(" | ")})`);
  // The browser asked (preflight) and, refused, never sent the GET itself.
  const after = await until("the refused preflight in the log", async () => {
    const lines = accessLog().slice(mark);
    return lines.some((e) => e.method === "OPTIONS") ? lines : null;
  }, 5_000).catch(() => accessLog().slice(mark));
  const sent = after.filter((e) => e.method !== "OPTIONS" && e.path.startsWith("/vmrest/"));
  check(after.some((e) => e.method === "OPTIONS"), "unlisted origin: no preflight reached the gateway");
  check(sent.length === 0, `unlisted origin: requests reached the gateway anyway: ${JSON.stringify(sent)}`);
  await other.screenshot({ path: refusedScreenshot, fullPage: true });

  check(thirdOrigin.length === 0, `requests to a third origin (failed at the dead proxy): ${thirdOrigin.join(", ")}`);
  check(pageErrors.length === 0, `page errors: ${pageErrors.join(" | ")}`);

  console.log(`frontend: page ${pageUrl} (allowed), ${otherUrl} (not listed); gateway ${gateway}`);
  console.log(`  sign-in: wrong password -> "${loginError}"`);
  console.log(`  list: "${caption}"; page 1 ${page1[0]}..${page1.at(-1)}; page 2 ${page2[0]}..${page2.at(-1)}`);
  console.log(`  search "${SEARCH}": ${found.length} rows (${found[0]}..${found.at(-1)})`);
  console.log(`  ${groupName}: ${portGroups.length} ports, all with MediaPortGroupObjectId ${groupId}`);
  console.log(`  edit: MwiOnCode ${before.MwiOnCode || '""'} -> ${newOn}, MwiOffCode ${before.MwiOffCode || '""'} -> ${newOff}; after reload ${reloadedOn}/${reloadedOff}`);
  console.log(`  bad value: 400 ${fields.join(", ")}; under MwiOnCode: "${fieldError}"; in the list: "${general}"`);
  console.log(`  preflights answered by the gateway: ${preflights.length}`);
  console.log(`  unlisted origin: ${failedList}; console: "${(corsLine || "").slice(0, 160)}"`);
  console.log(`  screenshots: ${screenshot}, ${refusedScreenshot}`);
}

await runTest("frontend.mjs", OVERALL_TIMEOUT_MS, run);
