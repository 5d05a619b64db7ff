// Run by files.test.ts in its own process: adds a folder as a file set and fetches it back through the
// store at argv[2], then prints the process's peak RSS, so the test can check a file larger than that
// peak streamed through (it was never held in memory whole).
import { addFileSet, fetchFileSet } from "../../src/files/index.ts";
import { KuboContentStore } from "../../src/content/index.ts";

const [apiUrl, src, dest] = process.argv.slice(2);
const store = new KuboContentStore({ url: apiUrl });
const { cid, fileSet } = await addFileSet(store, src);
await fetchFileSet(store, cid, dest);
console.log(JSON.stringify({ cid, files: fileSet.files, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
