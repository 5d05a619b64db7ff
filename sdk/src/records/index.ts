export * from "./errors.ts";
export * from "./normalise.ts";
