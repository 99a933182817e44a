// What the browser tests (docs.mjs, frontend.mjs) share: Debian's Chromium started with the
// flags that work on this closed network, failures collected rather than thrown, an overall time
// limit, and one exit path that closes the browser and says how it went.

import { chromium } from "playwright-core";

// Without the background-networking flags Chromium keeps trying Google's hosts, refused here.
// Playwright adds its own fresh temporary --user-data-dir.
const FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const failures = [];
let browser;

export function fail(message) {
  failures.push(message);
  console.error(`FAIL: ${message}`);
}

export function check(condition, message) {
  if (!condition) fail(message);
  return condition;
}

// A first start on a fresh machine reads Chromium's ~300 MB from a cold disk and builds the
// font cache: on a busy 2-core runner that has taken over 20 s. lib.sh warms it up first; this
// limit and the one retry are for a start that is slow anyway, not for a browser that hangs.
const LAUNCH_TIMEOUT_MS = 60_000;

/** Headless Debian Chromium (CHROMIUM overrides /usr/bin/chromium); closed by runTest. */
export async function launchChromium({ args = [] } = {}) {
  const options = {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout: LAUNCH_TIMEOUT_MS,
    args: [...FLAGS, ...args],
  };
  try {
    browser = await chromium.launch(options);
  } catch (error) {
    console.error(`Chromium did not start (${error?.message?.split("\n")[0]}); trying once more`);
    browser = await chromium.launch(options);
  }
  return browser;
}

/** Runs `body` within `limitMs`, then exits: 0 when no check failed, else 1. */
export async function runTest(name, limitMs, body) {
  const overall = setTimeout(async () => {
    console.error(`FAIL: ${name} did not finish within ${limitMs / 1000} s`);
    await browser?.close().catch(() => {});
    process.exit(1);
  }, limitMs);
  try {
    await body();
  } catch (error) {
    fail(`unexpected error: ${error?.stack || error}`);
  } finally {
    await browser?.close().catch(() => {});
    clearTimeout(overall);
  }
  if (failures.length) {
    console.error(`${name}: ${failures.length} check(s) failed`);
    process.exit(1);
  }
  console.log(`${name}: all checks passed`);
  process.exit(0);
}
