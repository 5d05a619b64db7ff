// Local services a web page can reach: the shared guard (sdk/src/http/guard.ts) in front of the embedded
// IPFS node's RPC and Pinning Service APIs, against a real node over real HTTP. A page on another site
// (Origin/Referer not allowed) gets 403 and changes nothing; the web app's origin gets CORS; a body over
// the cap gets 413 with a message naming the setting; the PSA needs a token beyond loopback.
import assert from "node:assert/strict";
import http from "node:http";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { create } from "kubo-rpc-client";
import { isLoopback, normalizeOrigin, parseAllowedOrigins } from "../src/http/index.ts";
import { PinningTokenRequiredError, startIpfsNode, type IpfsNode } from "../src/ipfs/index.ts";

const WEB_APP = "http://127.0.0.1:5173";
const EVIL = "https://evil.example";

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

/** One raw HTTP request (any headers, Host included); a body the server refuses early is not an error. */
function request(url: string, opts: { method?: string; headers?: Record<string, string>; body?: Buffer | string } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? "POST", headers: opts.headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on("data", (c: Buffer) => parts.push(c));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, text: Buffer.concat(parts).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", (e: NodeJS.ErrnoException) => {
      // the server answered and closed while this side was still sending: the answer has been resolved
      if (e.code !== "EPIPE" && e.code !== "ECONNRESET") reject(e);
    });
    req.end(opts.body);
  });
}

function multipart(name: string, bytes: Buffer): { body: Buffer; type: string } {
  const boundary = "----tributary-test-boundary";
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  return {
    body: Buffer.concat([Buffer.from(head), bytes, Buffer.from(`\r\n--${boundary}--\r\n`)]),
    type: `multipart/form-data; boundary=${boundary}`,
  };
}

describe("the shared HTTP guard's settings", () => {
  it("knows loopback addresses", () => {
    for (const h of ["127.0.0.1", "localhost", "::1", "[::1]", "127.1.2.3", "app.localhost"]) assert.ok(isLoopback(h), h);
    for (const h of ["0.0.0.0", "::", "192.168.1.2", "example.com", "127.0.0.1.evil.example"]) assert.ok(!isLoopback(h), h);
  });

  it("normalises allowed origins and refuses ones that are not scheme://host:port", () => {
    assert.equal(normalizeOrigin("http://127.0.0.1:5173/"), WEB_APP);
    assert.deepEqual(parseAllowedOrigins(" http://127.0.0.1:5173, https://app.example ,"), [WEB_APP, "https://app.example"]);
    assert.deepEqual(parseAllowedOrigins(undefined), []);
    assert.throws(() => normalizeOrigin("127.0.0.1:5173"), /scheme:\/\/host:port/);
    assert.throws(() => normalizeOrigin("http://127.0.0.1:5173/app"), /no path/);
    assert.throws(() => normalizeOrigin("file:///x"), /http:\/\/ or https:\/\//);
  });
});

describe("embedded IPFS node: web origins, body caps, pinning token", () => {
  let repo: string;
  let node: IpfsNode;
  let rpc: (cmd: string) => string;

  before(async () => {
    repo = mkdtempSync(join(tmpdir(), "ipfs-guard-"));
    node = await startIpfsNode({ repo, apiPort: 0, gatewayPort: 0, allowedOrigins: [WEB_APP], maxAddBytes: 64 * 1024, maxBodyBytes: 2048 });
    rpc = (cmd) => `${node.apiUrl}/api/v0/${cmd}`;
  });
  after(async () => {
    await node.stop();
    rmSync(repo, { recursive: true, force: true });
  });

  it("refuses a page on another site (403, Kubo's error shape) and the pin it tried to remove stays", async () => {
    const { cid } = await create({ url: node.apiUrl }).add(new TextEncoder().encode("keep me pinned"));
    const res = await request(rpc(`pin/rm?arg=${cid}`), { headers: { origin: EVIL } });
    assert.equal(res.status, 403);
    const body = JSON.parse(res.text) as { Message: string; Type: string };
    assert.equal(body.Type, "error");
    assert.match(body.Message, /requests from the web origin https:\/\/evil\.example are not allowed/);
    assert.equal(res.headers["access-control-allow-origin"], undefined, "no CORS for a foreign origin");
    const pins = await request(rpc(`pin/ls?arg=${cid}`));
    assert.equal(pins.status, 200, "still pinned");
    // a form post from a page that hides its origin ("null") and a Referer-only request are refused too
    assert.equal((await request(rpc("version"), { headers: { origin: "null" } })).status, 403);
    const viaReferer = await request(rpc("version"), { headers: { referer: `${EVIL}/page.html` } });
    assert.equal(viaReferer.status, 403);
    assert.match(JSON.parse(viaReferer.text).Message, /web page https:\/\/evil\.example/);
    assert.equal((await request(rpc("version"), { headers: { "sec-fetch-site": "cross-site" } })).status, 403);
  });

  it("serves the allowed web app with CORS, answers its preflight, and non-browser clients as before", async () => {
    const res = await request(rpc("version"), { headers: { origin: WEB_APP } });
    assert.equal(res.status, 200);
    assert.equal(res.headers["access-control-allow-origin"], WEB_APP);
    assert.match(String(res.headers.vary), /Origin/);
    assert.ok(JSON.parse(res.text).Version);
    const pre = await request(rpc("add"), {
      method: "OPTIONS",
      headers: { origin: WEB_APP, "access-control-request-method": "POST", "access-control-request-headers": "content-type" },
    });
    assert.equal(pre.status, 204);
    assert.match(String(pre.headers["access-control-allow-methods"]), /POST/);
    const foreignPre = await request(rpc("add"), { method: "OPTIONS", headers: { origin: EVIL, "access-control-request-method": "POST" } });
    assert.equal(foreignPre.status, 403);
    assert.equal((await request(rpc("version"))).status, 200, "no Origin, no Referer: a local program");
    assert.equal((await request(rpc("version"), { headers: { referer: `${WEB_APP}/#/datanets` } })).status, 200);
  });

  it("refuses a Host that is not loopback while it listens on loopback (DNS rebinding)", async () => {
    const res = await request(rpc("version"), { headers: { host: "evil.example:5001" } });
    assert.equal(res.status, 403);
    assert.match(JSON.parse(res.text).Message, /DNS rebinding/);
    assert.equal((await request(rpc("version"), { headers: { host: `localhost:${new URL(node.apiUrl).port}` } })).status, 200);
  });

  it("answers 413 to an add over the cap, naming the setting, and keeps serving", async () => {
    const big = multipart("big.bin", Buffer.alloc(80 * 1024, 7));
    const res = await request(rpc("add"), { headers: { "content-type": big.type }, body: big.body });
    assert.equal(res.status, 413);
    assert.match(JSON.parse(res.text).Message, /request body is larger than this service accepts \(65536 bytes\); raise it with .*max-add-bytes/);
    // streamed without a Content-Length, the cap holds too
    const chunked = await new Promise<Reply>((resolve, reject) => {
      const req = http.request(rpc("add"), { method: "POST", headers: { "content-type": big.type, "transfer-encoding": "chunked" }, agent: false }, (r) => {
        const parts: Buffer[] = [];
        r.on("data", (c: Buffer) => parts.push(c));
        r.on("end", () => resolve({ status: r.statusCode!, headers: r.headers, text: Buffer.concat(parts).toString("utf8") }));
      });
      req.on("error", (e: NodeJS.ErrnoException) => (e.code === "EPIPE" || e.code === "ECONNRESET" ? undefined : reject(e)));
      for (let i = 0; i < big.body.length; i += 8192) req.write(big.body.subarray(i, i + 8192));
      req.end();
    });
    assert.equal(chunked.status, 413);
    const small = multipart("small.txt", Buffer.from("small enough"));
    const ok = await request(rpc("add"), { headers: { "content-type": small.type }, body: small.body });
    assert.equal(ok.status, 200, ok.text);
    assert.match(ok.text, /"Hash":"baf/);
  });

  it("guards the Pinning Service API alike: foreign origin 403, JSON body over the cap 413", async () => {
    const foreign = await request(`${node.pinningServiceUrl}/pins`, { method: "GET", headers: { origin: EVIL } });
    assert.equal(foreign.status, 403);
    assert.equal(JSON.parse(foreign.text).error.reason, "FORBIDDEN");
    assert.equal((await request(`${node.pinningServiceUrl}/pins`, { method: "GET" })).status, 200, "open on loopback to local programs");
    const huge = await request(`${node.pinningServiceUrl}/pins`, {
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ cid: "bafkqaaa", name: "x".repeat(4096) }),
    });
    assert.equal(huge.status, 413);
    assert.match(JSON.parse(huge.text).error.details, /larger than this service accepts \(2048 bytes\)/);
  });

  it("will not listen beyond loopback with an open Pinning Service API; with a token it needs the token", async () => {
    await assert.rejects(startIpfsNode({ repo: join(repo, "wide"), host: "0.0.0.0", apiPort: 0, gatewayPort: 0 }), PinningTokenRequiredError);
    const wide = await startIpfsNode({ repo: join(repo, "wide"), host: "0.0.0.0", apiPort: 0, gatewayPort: 0, pinningToken: "s3cret-token" });
    try {
      const psa = `http://127.0.0.1:${new URL(wide.apiUrl).port}/psa/pins`;
      assert.equal((await request(psa, { method: "GET" })).status, 401);
      assert.equal((await request(psa, { method: "GET", headers: { authorization: "Bearer wrong" } })).status, 401);
      assert.equal((await request(psa, { method: "GET", headers: { authorization: "Bearer s3cret-token" } })).status, 200);
    } finally {
      await wide.stop();
    }
  });

  it("refuses cap settings that are not positive byte counts", async () => {
    await assert.rejects(startIpfsNode({ repo: join(repo, "bad"), apiPort: 0, gatewayPort: 0, maxAddBytes: 0 }), /maxAddBytes must be a positive whole number of bytes, got 0/);
  });
});
