// One sentence for any error the app shows: decoded contract reverts (the SDK's sentence), wallet
// rejections, schema errors, network failures. Never a hex blob or a stack trace.

interface ErrorLike {
  name?: string;
  message?: string;
  shortMessage?: string;
  reason?: string;
  code?: number;
  cause?: unknown;
}

function chain(e: unknown): ErrorLike[] {
  const out: ErrorLike[] = [];
  let cur: unknown = e;
  while (cur && typeof cur === "object" && out.length < 10) {
    out.push(cur as ErrorLike);
    cur = (cur as ErrorLike).cause;
  }
  return out;
}

/** What went wrong, as a sentence a person can act on. */
export function errorMessage(e: unknown): string {
  if (e === undefined || e === null) return "Something went wrong.";
  if (typeof e === "string") return e;
  const links = chain(e);
  // ContractRevertError from the SDK: its reason is the decoded custom error as a sentence.
  const revert = links.find((l) => l.name === "ContractRevertError" && l.reason);
  if (revert) return revert.reason!;
  if (links.some((l) => l.name === "UserRejectedRequestError" || l.code === 4001)) {
    return "You rejected the request in your wallet. Nothing was sent.";
  }
  const first = links[0];
  const text = first.shortMessage ?? first.message ?? String(e);
  // viem appends "Request Arguments", "Version", docs links after a blank line: keep the first paragraph.
  return text.split(/\n\s*\n/)[0].trim();
}
