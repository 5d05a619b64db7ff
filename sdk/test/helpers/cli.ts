// Runs the `tributary` CLI as a subprocess with --json, as a script would.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { Hex } from "viem";

export const BIN = fileURLToPath(new URL("../../bin/tributary.ts", import.meta.url));

export interface CliResult {
  code: number;
   
  json: any;
  stdout: string;
  stderr: string;
}

/** A runner bound to one chain / IPFS node; `key` signs (undefined: read-only). */
export function cliRunner(env: { rpcUrl: string; deploymentsFile: string; ipfsApi: string; cwd: string }) {
  return (key: Hex | undefined, ...args: string[]): Promise<CliResult> =>
    new Promise((resolve) => {
      const vars: NodeJS.ProcessEnv = {
        PATH: process.env.PATH,
        TRIBUTARY_RPC_URL: env.rpcUrl,
        TRIBUTARY_DEPLOYMENTS: env.deploymentsFile,
        TRIBUTARY_IPFS_API: env.ipfsApi,
      };
      if (key) vars.TRIBUTARY_PRIVATE_KEY = key;
      execFile(
        process.execPath,
        [BIN, ...args, "--json"],
        { env: vars, cwd: env.cwd },
        (err, stdout, stderr) => {
          let json: unknown;
          try {
            json = JSON.parse(stdout);
          } catch {
            json = undefined;
          }
          resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, json, stdout, stderr });
        },
      );
    });
}

/** Awaits a CLI run, asserts it succeeded, returns its JSON. */
 
export async function ok(p: Promise<CliResult>): Promise<any> {
  const r = await p;
  assert.equal(r.code, 0, `CLI failed: ${r.stdout}${r.stderr}`);
  return r.json;
}
