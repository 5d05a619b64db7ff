// An amount of OPEN as a person types it ("12.5"), read exactly (18 decimals) or refused with a sentence.
import { parseEther } from "viem";

export function parseOpen(typed: string, what = "the amount"): { value?: bigint; error?: string } {
  const t = typed.trim();
  if (!t) return { error: `Enter ${what} in OPEN.` };
  if (!/^\d+(\.\d{1,18})?$/.test(t))
    return { error: `"${t}" is not an amount of OPEN: use digits and at most 18 decimals, e.g. 12.5.` };
  const value = parseEther(t);
  if (value === 0n) return { error: `${what[0].toUpperCase()}${what.slice(1)} must be above 0.` };
  return { value };
}
