#!/usr/bin/env node
// `npx tributary-engine`: runs tributary-engine.ts on Node >= 22.18, re-running it with the project's own Node 22 (installed into
// .tools/ once) when the machine's Node is older, so the command works as written with any Node.
import { runTs } from "../../scripts/lib/node22.mjs";

await runTs(new URL("./tributary-engine.ts", import.meta.url));
