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

/** Headless Debian Chromium (CHROMIUM overrides /usr/bin/chromium); closed by runTest. */
export async function launchChromium({ timeout, args = [] }) {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout,
    args: [...FLAGS, ...args],
  });
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
