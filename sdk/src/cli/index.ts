export { buildProgram, run } from "./main.ts";
