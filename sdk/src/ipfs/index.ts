// Node-only: the embedded IPFS node (`@tributary/sdk/ipfs`).
export * from "./node.ts";
export * from "./profile.ts";
export { MultipartError } from "./multipart.ts";
