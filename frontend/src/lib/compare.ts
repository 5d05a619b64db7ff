// Which two models the side-by-side chat compares. The trainer node serves base models under their
// registered name and model versions as `model-<id>` (with `tributary.base_model`); a comparison is
// between models of the same base, since only they read the same tokens.

export interface ServedModel {
  id: string;
  created?: number;
  owned_by?: string;
  tributary?: { kind?: string; base_model?: string; model_id?: string | null };
}

export function isVersion(m: ServedModel): boolean {
  return m.tributary?.kind ? m.tributary.kind === "model-version" : /^model-\d+$/.test(m.id);
}

/** The base model's name of a served model (a base model is its own base). */
export function baseOf(m: ServedModel): string {
  return isVersion(m) ? (m.tributary?.base_model ?? "") : m.id;
}

function versionNumber(m: ServedModel): number {
  return Number(/^model-(\d+)$/.exec(m.id)?.[1] ?? 0);
}

/**
 * The pair to show for a route: `/chat/A/B` compares A and B; `/chat/model-N` compares its base model
 * (left) with it (right); `/chat/<base>` compares the base with its newest fine-tune, or shows the base
 * alone when it has none. Unknown ids are kept (the page then says the node does not serve them).
 */
export function defaultPair(models: ServedModel[], first: string, second?: string): [string, string?] {
  if (second) return [first, second];
  const m = models.find((x) => x.id === first);
  if (!m) return [first];
  if (isVersion(m)) return m.tributary?.base_model ? [m.tributary.base_model, m.id] : [m.id];
  const newest = models
    .filter((x) => isVersion(x) && baseOf(x) === m.id)
    .sort((a, b) => versionNumber(b) - versionNumber(a))[0];
  return newest ? [m.id, newest.id] : [m.id];
}

/** The models `id` can be compared with: the same base, itself excluded; the base first, then versions. */
export function comparableWith(models: ServedModel[], id: string): ServedModel[] {
  const m = models.find((x) => x.id === id);
  if (!m) return [];
  const base = baseOf(m);
  return models
    .filter((x) => x.id !== id && baseOf(x) === base)
    .sort((a, b) => Number(isVersion(a)) - Number(isVersion(b)) || versionNumber(a) - versionNumber(b));
}

/** The route of a pair. */
export function pairRoute(left: string, right?: string): string {
  return right
    ? `/chat/${encodeURIComponent(left)}/${encodeURIComponent(right)}`
    : `/chat/${encodeURIComponent(left)}`;
}

/** A column's heading: what the model is. */
export function describe(m: ServedModel | undefined, id: string): string {
  if (!m) return `${id} (not served by this node)`;
  return isVersion(m) ? `fine-tune of ${baseOf(m)}` : "base model";
}
