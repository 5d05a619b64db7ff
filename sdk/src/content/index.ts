export * from "./errors.ts";
export * from "./store.ts";
export * from "./verified.ts";
export * from "./kubo.ts";
export * from "./pinning-service.ts";
