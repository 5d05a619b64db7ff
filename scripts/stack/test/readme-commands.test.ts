// Every command the README shows in its shell code blocks works as written, run with the machine's own
// Node (the first `node` on PATH outside the project's .tools/, as a user's shell would find it).
// Not run: `npm start` / `npm test` themselves (this test runs inside `npm test`). Commands in a block the
// README introduces as needing the running stack ("With `npm start` running") are run with `--help`:
// that checks the command and every option it is shown with exist, without a chain.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { repoRoot } from "../config.ts";

interface Block {
  intro: string;
  commands: string[];
}

/** The README's ```sh blocks, each with the paragraph line just before it. */
export function shellBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== "```sh") continue;
    let j = i - 1;
    while (j >= 0 && lines[j].trim() === "") j--;
    const intro = j >= 0 ? lines[j] : "";
    const commands: string[] = [];
    for (i++; i < lines.length && lines[i].trim() !== "```"; i++) {
      const cmd = lines[i].replace(/\s+#.*$/, "").trim();
      if (cmd && !cmd.startsWith("#")) commands.push(cmd);
    }
    blocks.push({ intro, commands });
  }
  return blocks;
}

/** PATH without the project's own Node, so `node` is the machine's. */
function machinePath(): string {
  return (process.env.PATH ?? "")
    .split(path.delimiter)
    .filter((d) => !d.includes(`${path.sep}.tools${path.sep}`) && !d.endsWith(`${path.sep}node_modules${path.sep}.bin`))
    .join(path.delimiter);
}

const readme = readFileSync(path.join(repoRoot, "README.md"), "utf8");
const blocks = shellBlocks(readme);

test("the README shows its commands in shell blocks, the stack ones marked", () => {
  const all = blocks.flatMap((b) => b.commands);
  assert.deepEqual(blocks[0].commands, ["npm start", "npm test"], "the README opens with npm start and npm test");
  for (const tool of ["npx tributary ", "npx tributary-engine ", "npx tributary-trainer "]) {
    assert.ok(all.some((c) => c.startsWith(tool)), `the README shows ${tool.trim()}`);
  }
  assert.ok(blocks.some((b) => /npm start` running/.test(b.intro)), "a block is marked as needing the running stack");
});

test("every README command runs with the machine's Node and exits 0", { timeout: 15 * 60_000 }, () => {
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: machinePath() };
  delete env.NODE_OPTIONS;
  const node = spawnSync("node", ["--version"], { env, encoding: "utf8" });
  assert.equal(node.status, 0, "a node on the machine's PATH");
  const made = path.join(repoRoot, ".tributary", "try");
  rmSync(made, { recursive: true, force: true });
  try {
    for (const b of blocks.slice(1)) {
      const needsStack = /npm start` running/.test(b.intro);
      for (const cmd of b.commands) {
        const line = needsStack ? `${cmd} --help` : cmd;
        const r = spawnSync("bash", ["-c", line], { cwd: repoRoot, env, encoding: "utf8", timeout: 10 * 60_000 });
        assert.equal(r.status, 0, `\`${line}\` (machine's node ${node.stdout.trim()}) exited ${r.status}:\n${(r.stderr ?? "").slice(-2000)}`);
      }
    }
    assert.ok(existsSync(path.join(made, "adapter_model.safetensors")), "the README's fine-tune wrote an adapter");
  } finally {
    rmSync(made, { recursive: true, force: true });
  }
});
