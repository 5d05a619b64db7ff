// Shared state and helpers of the browser test's journeys (test/e2e.test.ts starts one real stack and one
// browser for all of them, then runs each journey file's tests in order).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { connectChain, parseDeployments } from "@tributary/sdk/chain/browser";
import { splitEval } from "@tributary/engine";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { privateKeyToAccount } from "viem/accounts";
import { demoAccount } from "../../../scripts/stack/accounts.ts";
import type { TestStack } from "../support/stack.ts";
import { installWallet, WALLET_NAME } from "../support/wallet.ts";
import type { HeadlessWallet } from "../support/wallet.ts";

/** What the journeys share; set by the entry file's `before`. */
export interface E2E {
  stack: TestStack;
  browser: Browser;
  context: BrowserContext;
  /** The demo builder's page (its wallet starts on the wrong network). */
  page: Page;
  wallet: HeadlessWallet;
  web: string;
  chainId: number;
  rpcUrl: string;
  jobId?: string;
  /** The job the datanet-owner journey disputes (its page shows the dispute panel). */
  disputedJobId?: string;
  modelId?: bigint;
  pageErrors: string[];
}

export const e = { pageErrors: [] as string[] } as E2E;

export const COOKING = 1n;
/** Set WEB_SCREENSHOTS=<dir> to keep a screenshot of each page the test passes through (for review). */
export const SHOTS = process.env.WEB_SCREENSHOTS;
export const shot = async (p: Page, name: string) => {
  if (SHOTS) await p.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
};

/** Word-level ROUGE-L F1 (longest common subsequence of lower-cased words). */
export function rougeL(candidate: string, reference: string): number {
  const words = (x: string) => x.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  const a = words(candidate);
  const b = words(reference);
  if (!a.length || !b.length) return 0;
  let prev = new Array<number>(b.length + 1).fill(0);
  for (const w of a) {
    const row = [0];
    for (let j = 1; j <= b.length; j++)
      row[j] = w === b[j - 1] ? prev[j - 1] + 1 : Math.max(prev[j], row[j - 1]);
    prev = row;
  }
  const lcs = prev[b.length];
  if (lcs === 0) return 0;
  const p = lcs / a.length;
  const r = lcs / b.length;
  return (2 * p * r) / (p + r);
}

/**
 * The cooking Datanet's record for `question`, checked to be one the job trains on: an approved
 * contribution up to version 4 (demo.json) and not in the eval split the trainer node holds out (the
 * engine's seeded split over the job's records, seed and fraction as the card recommends).
 */
export function trainedRecord(question: string): { system: string; question: string; answer: string } {
  const seedDir = path.join(import.meta.dirname, "..", "..", "..", "scripts", "seed-data");
  const demo = JSON.parse(fs.readFileSync(path.join(seedDir, "demo.json"), "utf8")) as {
    datanets: Array<{ key: string; contributions: Array<{ records: [number, number]; status: string }> }>;
  };
  const approved = demo.datanets
    .find((d) => d.key === "cooking")!
    .contributions.filter((c) => c.status === "approved")
    .flatMap((c) => Array.from({ length: c.records[1] - c.records[0] }, (_, i) => c.records[0] + i));
  const lines = fs.readFileSync(path.join(seedDir, "cooking-qa.jsonl"), "utf8").trim().split("\n");
  const records = lines.map(
    (l) => (JSON.parse(l) as { messages: Array<{ role: string; content: string }> }).messages,
  );
  const at = records.findIndex((m) => m.some((x) => x.role === "user" && x.content === question));
  assert.ok(approved.includes(at), `"${question}" is in an approved contribution`);
  const { eval: held } = splitEval(approved, 0.1, 42);
  assert.ok(!held.includes(at), `"${question}" is held out for evaluation; pick a trained question`);
  const m = records[at];
  const content = (role: string) => m.find((x) => x.role === role)!.content;
  return { system: content("system"), question, answer: content("assistant") };
}

/** Alice (the cooking Datanet's owner) acting from outside the app. */
export function asAlice() {
  return asDemo("alice");
}

/** A demo account acting from outside the app (the SDK with its key). */
export async function asDemo(role: Parameters<typeof demoAccount>[0]) {
  const deployments = JSON.parse(
    fs.readFileSync(path.join(e.stack.env.TRIBUTARY_DEPLOYMENTS_DIR, `${e.chainId}.json`), "utf8"),
  ) as unknown;
  return connectChain({
    rpcUrl: e.rpcUrl,
    chainId: e.chainId,
    deployments: parseDeployments(deployments, e.chainId),
    account: privateKeyToAccount(demoAccount(role).privateKey),
  });
}

/** Connects the page's headless wallet through the app's button and RainbowKit's modal. */
export async function connect(p: Page) {
  await p.getByRole("button", { name: "Connect Wallet" }).first().click();
  await p.getByText(WALLET_NAME).first().click();
  await p
    .getByRole("button", { name: "Connect Wallet" })
    .first()
    .waitFor({ state: "detached", timeout: 20_000 });
}

/**
 * A new page in the shared browser for the person with `privateKey` (a headless wallet on the stack's
 * chain), opened at `hash` (e.g. "#/datanets") and connected through the app. `trackErrors` adds the
 * page's uncaught errors to the ones the test fails on.
 */
export async function openAs(privateKey: `0x${string}`, hash: string, o: { trackErrors?: boolean } = {}) {
  const page = await e.context.newPage();
  if (o.trackErrors) page.on("pageerror", (x) => e.pageErrors.push(x.message));
  const wallet = await installWallet(page, { privateKey, rpcUrl: e.rpcUrl, chainId: e.chainId });
  await page.goto(`${e.web}/${hash}`);
  await connect(page);
  return { page, wallet };
}

/** After a chat message was sent: waits for its answers to finish (Stop shows while they stream, then Send). */
export async function waitForSend(p: Page) {
  await p.getByRole("button", { name: "Stop" }).waitFor();
  await p.getByRole("button", { name: "Send" }).waitFor({ timeout: 180_000 });
}
