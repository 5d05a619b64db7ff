// Custodian: key release for trainers, checked against the chain (server), and the trainer's client.
export * from "./key.ts";
export * from "./request.ts";
export * from "./server.ts";
