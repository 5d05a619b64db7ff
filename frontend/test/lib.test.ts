// Pure helpers: formatting, the SSE parser, the loss chart's geometry, job events, API snippets, errors.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ContractRevertError } from "@tributary/sdk/chain/browser";
import { parseEther } from "viem";
import { chartGeometry, niceTicks } from "../src/lib/chart.ts";
import { errorMessage } from "../src/lib/errors.ts";
import { formatDuration, formatOpen, shortAddress } from "../src/lib/format.ts";
import { applyJobEvent, EMPTY_LIVE } from "../src/lib/job-events.ts";
import { curlSnippet, openAiJsSnippet, openAiPythonSnippet } from "../src/lib/snippets.ts";
import { SseParser } from "../src/lib/sse.ts";

describe("format", () => {
  it("OPEN amounts with separators and trimmed decimals", () => {
    assert.equal(formatOpen(parseEther("1234567.5")), "1,234,567.5 OPEN");
    assert.equal(formatOpen(parseEther("50")), "50 OPEN");
    assert.equal(formatOpen(parseEther("0.123456789"), 4), "0.1234 OPEN");
    assert.equal(formatOpen("0"), "0 OPEN");
  });
  it("durations and addresses", () => {
    assert.equal(formatDuration(45), "45 s");
    assert.equal(formatDuration(200), "3 min 20 s");
    assert.equal(formatDuration(3900), "1 h 5 min");
    assert.equal(formatDuration(90_000), "1 d 1 h");
    assert.equal(formatDuration(-1), "—");
    assert.equal(shortAddress("0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"), "0x9965…A4dc");
  });
});

describe("SSE parser", () => {
  it("assembles messages split anywhere across chunks, skipping comments", () => {
    const text =
      'event: stage\ndata: {"a":1}\n\n: keep-alive\n\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n';
    for (const cut of [1, 5, 17, 30, text.length - 3]) {
      const p = new SseParser();
      const got = [...p.feed(text.slice(0, cut)), ...p.feed(text.slice(cut))];
      assert.deepEqual(
        got,
        [
          { event: "stage", data: '{"a":1}' },
          { event: undefined, data: "line1\nline2" },
          { event: undefined, data: "[DONE]" },
        ],
        `cut at ${cut}`,
      );
    }
  });
  it("handles CRLF line ends and holds back an unfinished message", () => {
    const p = new SseParser();
    assert.deepEqual(p.feed("data: x\r\n\r\ndata: y\r\n"), [{ event: undefined, data: "x" }]);
    assert.deepEqual(p.feed("\r\n"), [{ event: undefined, data: "y" }]);
  });
});

describe("loss chart geometry", () => {
  it("maps the lowest loss to the bottom and the highest to the top of the plot", () => {
    const g = chartGeometry(
      [
        { x: 1, y: 3 },
        { x: 2, y: 1 },
        { x: 4, y: 2 },
      ],
      200,
      100,
      10,
      4,
    );
    assert.deepEqual(g.toScreen({ x: 2, y: 1 }), { x: 10 + (2 / 4) * 180, y: 90 });
    assert.deepEqual(g.toScreen({ x: 1, y: 3 }), { x: 10 + (1 / 4) * 180, y: 10 });
    assert.equal(g.path.split(/[ML]/).filter(Boolean).length, 3);
    assert.ok(g.path.startsWith("M"));
  });
  it("nice ticks are round and cover the range", () => {
    assert.deepEqual(niceTicks(0, 10, 6), [0, 2, 4, 6, 8, 10]);
    assert.deepEqual(niceTicks(5.61, 6.44, 5), [5.8, 6, 6.2, 6.4]);
    assert.deepEqual(niceTicks(3, 3), [3]);
  });
  it("draws nothing for no points", () => {
    assert.equal(chartGeometry([], 100, 100).path, "");
  });
});

describe("job events", () => {
  const progress = (step: number, loss: number, evalLoss?: number) => ({
    type: "progress" as const,
    jobId: "7",
    progress: { step, totalSteps: 10, loss, lr: 1e-4, tokensPerSec: 500, etaSec: 20, evalLoss },
  });
  it("folds the stage snapshot and progress into one ordered curve", () => {
    let live = applyJobEvent(
      EMPTY_LIVE,
      {
        type: "stage",
        job: {
          jobId: "7",
          stage: "training",
          updatedAt: "2026-11-25T12:00:00.000Z",
          lossHistory: [
            { step: 1, loss: 4 },
            { step: 2, loss: 3.5 },
          ],
          evalHistory: [],
          txs: {},
        },
      },
      "7",
    );
    live = applyJobEvent(live, progress(3, 3.1, 3.3), "7");
    live = applyJobEvent(live, progress(2, 3.4), "7"); // a repeated step replaces, never duplicates
    assert.deepEqual(live.loss, [
      { x: 1, y: 4 },
      { x: 2, y: 3.4 },
      { x: 3, y: 3.1 },
    ]);
    assert.deepEqual(live.evalLoss, [{ x: 3, y: 3.3 }]);
    assert.equal(live.stage, "training");
    assert.equal(live.progress?.step, 2);
  });
  it("ignores other jobs' events", () => {
    assert.equal(applyJobEvent(EMPTY_LIVE, { ...progress(1, 2), jobId: "8" }, "7"), EMPTY_LIVE);
  });
});

describe("API snippets", () => {
  const api = "http://127.0.0.1:8787/v1";
  it("curl posts valid JSON naming the model to the chat endpoint", () => {
    const s = curlSnippet(api, "model-3", 'it\'s "quoted"');
    assert.match(s, /^curl http:\/\/127\.0\.0\.1:8787\/v1\/chat\/completions/);
    // Undo the shell quoting of the -d argument and parse it.
    const body = /-d '([\s\S]*)'$/.exec(s)![1].replace(/'\\''/g, "'");
    assert.deepEqual(JSON.parse(body), {
      model: "model-3",
      messages: [{ role: "user", content: 'it\'s "quoted"' }],
      stream: true,
    });
  });
  it("the OpenAI SDK snippets use the base URL and model id", () => {
    for (const s of [openAiJsSnippet(api, "model-3"), openAiPythonSnippet(api, "model-3")]) {
      assert.match(s, /"http:\/\/127\.0\.0\.1:8787\/v1"/);
      assert.match(s, /model[=:] ?"model-3"/);
    }
  });
});

describe("error messages", () => {
  it("a contract revert shows the SDK's sentence", () => {
    const e = new ContractRevertError({
      contract: "JobMarket",
      functionName: "postJob",
      errorName: "AccessDenied",
      reason: "0xabc has no valid access to Datanet 1.",
    });
    assert.equal(errorMessage(new Error("wrapped", { cause: e })), "0xabc has no valid access to Datanet 1.");
  });
  it("a wallet rejection says nothing was sent; viem's details are cut", () => {
    const rejected = Object.assign(new Error("User rejected the request."), { code: 4001 });
    assert.match(errorMessage(new Error("x", { cause: rejected })), /rejected the request in your wallet/);
    assert.equal(
      errorMessage({
        shortMessage: "HTTP request failed.",
        message: "HTTP request failed.\n\nURL: http://x\nVersion: viem",
      }),
      "HTTP request failed.",
    );
  });
});
