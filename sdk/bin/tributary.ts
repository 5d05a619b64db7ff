#!/usr/bin/env node
// `npx tributary --help`. Node >= 22 runs this TypeScript directly.
import { run } from "../src/cli/main.ts";

process.exitCode = await run(process.argv);
