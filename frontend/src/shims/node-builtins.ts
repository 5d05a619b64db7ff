// Stand-ins for the Node built-ins that Node-only SDK modules import at their top (today
// `@tributary/sdk/files`, reached through `@tributary/sdk/chain/browser`'s protocol functions). Vite's own
// browser stand-in throws as soon as a module reads a name from it, which stops the whole app from
// loading; these load fine and throw only if the browser actually calls one. The app never does: it reads
// file sets itself (src/lib/base-model-card.ts, sha256 with WebCrypto) and hands postJob the card.
// Drop this file and the alias in vite.config.ts once the SDK keeps Node-only imports out of its browser entry.

function nodeOnly(name: string): never {
  throw new Error(`${name} is Node-only and cannot run in the web app`);
}

// node:crypto
export const createHash = (): never => nodeOnly("crypto.createHash");
// node:fs, node:fs/promises
export const existsSync = (): never => nodeOnly("fs.existsSync");
export const mkdir = (): never => nodeOnly("fs.mkdir");
export const readdir = (): never => nodeOnly("fs.readdir");
export const readFile = (): never => nodeOnly("fs.readFile");
export const rename = (): never => nodeOnly("fs.rename");
export const rm = (): never => nodeOnly("fs.rm");
export const stat = (): never => nodeOnly("fs.stat");
export const writeFile = (): never => nodeOnly("fs.writeFile");
// node:path
export const dirname = (): never => nodeOnly("path.dirname");
export const join = (): never => nodeOnly("path.join");
export const normalize = (): never => nodeOnly("path.normalize");
export const sep = "/";

export default {};
