// Launches the system Chromium headless through playwright-core (`npx playwright install` cannot work
// offline; the Debian package can).
import fs from "node:fs";
import { chromium } from "playwright-core";
import type { Browser } from "playwright-core";

const candidates = () => [
  process.env.CHROME_PATH,
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
];
const NO_CHROMIUM =
  "No Chromium found for the browser test. Install it with `apt-get install -y chromium` (Debian/Ubuntu), or set CHROME_PATH to a Chrome/Chromium binary.";

/**
 * Why the browser tests cannot run here (no Chromium), for their `skip`; false when they can. `npm test`
 * accepts this skip only outside CI (scripts/skip-allow.json).
 */
export function browserMissing(): string | false {
  return candidates().some((p) => p && fs.existsSync(p)) ? false : NO_CHROMIUM;
}

export function chromiumPath(): string {
  const found = candidates().find((p): p is string => Boolean(p && fs.existsSync(p)));
  if (!found) throw new Error(NO_CHROMIUM);
  return found;
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
