// Formatting numbers, amounts, addresses and durations for people.
import { formatEther } from "viem";

/** OPEN amount (wei) with at most `decimals` decimals and thousands separators: "1,234.5 OPEN". */
export function formatOpen(wei: bigint | string, decimals = 4): string {
  const [whole, frac = ""] = formatEther(BigInt(wei)).split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const cut = frac.slice(0, decimals).replace(/0+$/, "");
  return `${grouped}${cut ? `.${cut}` : ""} OPEN`;
}

/** 0x1234…abcd */
export function shortAddress(address: string): string {
  return address.length > 12 ? `${address.slice(0, 6)}…${address.slice(-4)}` : address;
}

/** Seconds as "1 h 5 min", "3 min 20 s", "45 s". */
export function formatDuration(totalSeconds: number): string {
  if (!Number.isFinite(totalSeconds) || totalSeconds < 0) return "—";
  const s = Math.round(totalSeconds);
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (d > 0) return h ? `${d} d ${h} h` : `${d} d`;
  if (h > 0) return m ? `${h} h ${m} min` : `${h} h`;
  if (m > 0) return sec ? `${m} min ${sec} s` : `${m} min`;
  return `${sec} s`;
}

/** A loss or rate with 3-4 significant digits. */
export function formatNumber(x: number, digits = 4): string {
  if (!Number.isFinite(x)) return "—";
  if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e6)) return x.toExponential(digits - 1);
  return Number(x.toPrecision(digits)).toLocaleString("en-US", { maximumFractionDigits: 6 });
}

/** Unix seconds (bigint or string) as a local date and time. */
export function formatTime(unixSeconds: bigint | string | number): string {
  return new Date(Number(unixSeconds) * 1000).toLocaleString();
}
