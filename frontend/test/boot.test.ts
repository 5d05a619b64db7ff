// The app's start-up failures, in a real browser against Vite: no deployments yet, and a chain that does
// not answer. Each must say what is wrong and what to do, not show a blank page.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import type { Browser } from "playwright-core";
import { CONTRACT_NAMES } from "@tributary/sdk/chain/browser";
import { browserMissing, launchBrowser } from "./support/browser.ts";

const frontend = path.resolve(import.meta.dirname, "..");
const vite = path.join(
  path.dirname(fileURLToPath(import.meta.resolve("vite/package.json"))),
  "bin",
  "vite.js",
);

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Starts the Vite dev server with `env`; resolves to its URL once it answers. */
async function startVite(env: Record<string, string>): Promise<{ url: string; child: ChildProcess }> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [vite, "--host", "127.0.0.1", "--port", String(port), "--strictPort"],
    {
      cwd: frontend,
      env: { ...process.env, ...env },
      stdio: "ignore",
    },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 150; i++) {
    try {
      if ((await fetch(url)).ok) return { url, child };
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  child.kill();
  throw new Error("Vite did not start within 30 s");
}

describe("start-up errors", { timeout: 120_000, skip: browserMissing() }, () => {
  let browser: Browser;
  const children: ChildProcess[] = [];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tributary-web-boot-"));

  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    for (const c of children) c.kill("SIGTERM");
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const bootMessage = async (url: string) => {
    const page = await browser.newPage();
    await page.goto(url);
    await page.getByRole("heading", { name: "Tributary cannot start" }).waitFor({ timeout: 60_000 });
    const text = await page.getByRole("alert").innerText();
    await page.close();
    return text;
  };

  it("says that nothing is deployed and how to fix it", async () => {
    const server = await startVite({
      TRIBUTARY_DEPLOYMENTS_DIR: path.join(dir, "none"),
      TRIBUTARY_CHAIN_ID: "31337",
    });
    children.push(server.child);
    const text = await bootMessage(server.url);
    assert.match(text, /No contracts are deployed for chain 31337/);
    assert.match(text, /npm start/);
  });

  it("says that the chain cannot be reached when its RPC does not answer", async () => {
    const deployments = path.join(dir, "deployments");
    fs.mkdirSync(deployments);
    const contracts = Object.fromEntries(
      CONTRACT_NAMES.map((name, i) => [
        name,
        { address: `0x${String(i + 1).padStart(40, "0")}`, deployBlock: 1 },
      ]),
    );
    fs.writeFileSync(
      path.join(deployments, "31337.json"),
      JSON.stringify({ chainId: 31337, deployBlock: 1, contracts }),
    );
    const closed = await freePort();
    const server = await startVite({
      TRIBUTARY_DEPLOYMENTS_DIR: deployments,
      TRIBUTARY_CHAIN_ID: "31337",
      TRIBUTARY_RPC_URL: `http://127.0.0.1:${closed}`,
    });
    children.push(server.child);
    const text = await bootMessage(server.url);
    assert.match(text, /Cannot reach the chain/);
    assert.match(text, /npm start/);
  });
});
