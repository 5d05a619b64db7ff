// A Datanet's stored description: the summary as its first paragraph, then the Markdown body.

export function composeDescription(summary: string, body: string): string {
  return [summary.trim(), body.trim()].filter(Boolean).join("\n\n");
}

/** The first paragraph of a stored description (what cards show as the summary). */
export function summaryOf(description: string | undefined): string {
  return (description ?? "").trim().split(/\n\s*\n/)[0] ?? "";
}
