// Accessibility and small screens on every page, against the real stack's data: axe-core (WCAG 2.1 A and
// AA rules) must find no serious or critical violation, and at 375 px wide no page scrolls sideways.
// The counts go to bench/results/frontend-a11y.json, which `npm run bench:frontend` folds into
// frontend.json as a11y_serious_violations.
import assert from "node:assert/strict";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { it } from "node:test";
import type { Page } from "playwright-core";
import { e } from "./context.ts";

const axePath = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const resultsFile = path.resolve(
  import.meta.dirname,
  "..",
  "..",
  "..",
  "bench",
  "results",
  "frontend-a11y.json",
);

interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: string[] }>;
}

async function audit(p: Page): Promise<AxeViolation[]> {
  await p.addScriptTag({ path: axePath });
  return p.evaluate(async () => {
    const axe = (
      window as unknown as {
        axe: { run: (ctx: Document, o: object) => Promise<{ violations: AxeViolation[] }> };
      }
    ).axe;
    const r = await axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
    });
    return r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target })),
    }));
  });
}

export function a11yJourney() {
  it("every page: no serious or critical axe-core violation, and nothing scrolls sideways at 375 px", async () => {
    assert.ok(e.jobId, "the builder's job exists");
    const pages: Record<string, string> = {
      datanets: "#/datanets",
      "datanet-1": "#/datanets/1",
      "create-datanet": "#/datanets/new",
      "fine-tune": "#/new",
      jobs: "#/jobs",
      job: `#/jobs/${e.jobId}`,
      models: "#/models",
      rewards: "#/rewards",
      trainers: "#/trainers",
    };
    if (e.disputedJobId) pages["disputed-job"] = `#/jobs/${e.disputedJobId}`;
    // the model's chat: its base beside it, and (priced by the paid-chat journey) the payment panel
    if (e.modelId) pages.chat = `#/chat/model-${e.modelId}`;
    const counts: Record<string, number> = {};
    const details: Record<string, string[]> = {};
    const overflow: string[] = [];
    // In the builder's tab: its wallet is connected, so the pages show their signed-in state.
    const page = e.page;
    for (const [name, hash] of Object.entries(pages)) {
      for (const width of [1280, 375]) {
        await page.setViewportSize({ width, height: 800 });
        await page.goto(`${e.web}/${hash}`);
        await page.locator("main h1, main .state").first().waitFor({ timeout: 60_000 });
        await page.waitForLoadState("networkidle", { timeout: 30_000 }).catch(() => undefined);
        if (width === 375) {
          const wide = await page.evaluate(() => document.documentElement.scrollWidth);
          if (wide > 375) overflow.push(`${name}: ${wide} px`);
          continue;
        }
        const bad = (await audit(page)).filter((v) => v.impact === "serious" || v.impact === "critical");
        counts[name] = bad.reduce((n, v) => n + v.nodes.length, 0);
        details[name] = bad.map(
          (v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`,
        );
      }
    }
    await page.setViewportSize({ width: 1280, height: 720 });
    const total = Object.values(counts).reduce((a, b) => a + b, 0);
    fs.mkdirSync(path.dirname(resultsFile), { recursive: true });
    fs.writeFileSync(
      resultsFile,
      JSON.stringify(
        {
          date: new Date().toISOString(),
          tool: "axe-core (wcag2a, wcag2aa, wcag21a, wcag21aa, best-practice), serious + critical nodes",
          serious_or_critical: total,
          pages: counts,
          violations: details,
          overflow_at_375px: overflow,
        },
        null,
        2,
      ) + "\n",
    );
    assert.deepEqual(overflow, [], "pages wider than 375 px");
    assert.equal(total, 0, JSON.stringify(details, null, 2));
  });
}
