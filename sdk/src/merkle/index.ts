export * from "./weights.ts";
export * from "./tree.ts";
export * from "./report.ts";
