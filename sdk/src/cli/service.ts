// `tributary custodian start` and `tributary wallet address|keystore`
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { Command } from "commander";
import { generatePrivateKey, privateKeyToAccount } from "viem/accounts";
import { encryptKeystore } from "../chain/keystore.ts";
import { loadAccount, parsePrivateKey } from "../chain/wallet.ts";
import { DEFAULT_CUSTODIAN_PORT, startCustodian } from "../custody/server.ts";
import { parseAllowedOrigins } from "../http/guard.ts";
import { action } from "./action.ts";
import { parseIds, UsageError } from "./context.ts";

export function custodianCommand(env: NodeJS.ProcessEnv): Command {
  const cmd = new Command("custodian").description("the key-release service a Datanet owner runs");
  cmd
    .command("start")
    .description(
      "serve key release on loopback until interrupted (key from TRIBUTARY_CUSTODIAN_KEY or the state folder; web pages allowed only from TRIBUTARY_ALLOWED_ORIGINS, comma-separated)",
    )
    .option("--host <host>", "interface to listen on", env.TRIBUTARY_CUSTODIAN_HOST ?? "127.0.0.1")
    .option(
      "--port <port>",
      "port (env TRIBUTARY_CUSTODIAN_PORT)",
      env.TRIBUTARY_CUSTODIAN_PORT ?? String(DEFAULT_CUSTODIAN_PORT),
    )
    .option(
      "--state-dir <dir>",
      "where a generated key is kept (env TRIBUTARY_CUSTODIAN_DIR)",
      env.TRIBUTARY_CUSTODIAN_DIR ?? ".tributary/custodian",
    )
    .option("--datanet <ids...>", "serve only these Datanets")
    .action(
      action<{ host: string; port: string; stateDir: string; datanet?: string[] }>(env, async (ctx, o) => {
        const datanetIds = o.datanet ? parseIds(o.datanet, "--datanet") : undefined;
        const c = await startCustodian({
          conn: await ctx.conn(),
          store: ctx.store(),
          stateDir: o.stateDir,
          privateKey: env.TRIBUTARY_CUSTODIAN_KEY,
          host: o.host,
          port: Number(o.port),
          datanetIds,
          allowedOrigins: parseAllowedOrigins(env.TRIBUTARY_ALLOWED_ORIGINS),
          log: ctx.opts.json
            ? undefined
            : (line) => process.stderr.write(`${new Date().toISOString()} ${line}\n`),
        });
        ctx.print(
          { url: c.url, publicKey: c.publicKey, keyId: c.keyId, keyCreated: c.keyCreated },
          () =>
            `Custodian listening on ${c.url}\npublic key ${c.publicKey} (${c.keyId}${c.keyCreated ? ", generated now" : ""})\nCreate Datanets with --custodian-url ${c.url}`,
        );
        await new Promise<void>((resolve) => {
          const stop = () => {
            void c.stop().then(resolve);
          };
          process.once("SIGINT", stop);
          process.once("SIGTERM", stop);
        });
      }),
    );
  return cmd;
}

function password(env: NodeJS.ProcessEnv, file?: string): string {
  if (file) return readFileSync(file, "utf8").replace(/\r?\n$/, "");
  if (env.TRIBUTARY_KEYSTORE_PASSWORD !== undefined) return env.TRIBUTARY_KEYSTORE_PASSWORD;
  throw new UsageError("No keystore password", "Set TRIBUTARY_KEYSTORE_PASSWORD or pass --password-file.");
}

export function walletCommand(env: NodeJS.ProcessEnv): Command {
  const cmd = new Command("wallet").description("the signing account");
  cmd
    .command("address")
    .description("the configured account's address")
    .action(
      action(env, async (ctx) => {
        const pw = ctx.opts.passwordFile ? password(env, ctx.opts.passwordFile) : undefined;
        const account = loadAccount({ keystore: ctx.opts.keystore, password: pw }, env);
        if (!account)
          throw new UsageError(
            "No wallet configured",
            "Set TRIBUTARY_PRIVATE_KEY or pass --keystore <file>.",
          );
        ctx.print({ address: account.address }, () => account.address);
      }),
    );
  cmd
    .command("keystore <file>")
    .description("write TRIBUTARY_PRIVATE_KEY (or a new key with --new) to an encrypted V3 keystore file")
    .option("--new", "generate a new key")
    .action(
      action<{ new?: boolean }>(env, async (ctx, o, [file]) => {
        if (existsSync(file))
          throw new UsageError(`${file} exists`, "Choose another path; keystores are never overwritten.");
        const key = o.new
          ? generatePrivateKey()
          : env.TRIBUTARY_PRIVATE_KEY
            ? parsePrivateKey(env.TRIBUTARY_PRIVATE_KEY)
            : undefined;
        if (!key) throw new UsageError("No key to store", "Set TRIBUTARY_PRIVATE_KEY, or pass --new.");
        const ks = encryptKeystore(key, password(env, ctx.opts.passwordFile));
        writeFileSync(file, JSON.stringify(ks, null, 2) + "\n", { mode: 0o600, flag: "wx" });
        const address = privateKeyToAccount(key).address;
        ctx.print({ file, address }, () => `Wrote keystore for ${address} to ${file}`);
      }),
    );
  return cmd;
}
