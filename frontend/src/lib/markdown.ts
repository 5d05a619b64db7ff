// A Datanet's description rendered from its Markdown (react-markdown: CommonMark to React elements, never
// innerHTML). Raw HTML in the source is dropped (`skipHtml`), link targets pass react-markdown's URL filter
// (http(s), mailto and relative ones; `javascript:`, `vbscript:` and `data:` become empty), links get
// rel="nofollow noopener noreferrer", remote images are not loaded (their alt text is shown: a description
// cannot track its readers), and headings start below the page's own (# becomes h3).
// No JSX here, so the unit test (node:test, TypeScript stripped) can import it.
import { createElement } from "react";
import type { ReactElement, ReactNode } from "react";
import ReactMarkdown from "react-markdown";
import type { Components } from "react-markdown";

const shift =
  (level: 3 | 4 | 5 | 6) =>
  ({ children }: { children?: ReactNode }) =>
    createElement(`h${level}`, null, children);

const components: Components = {
  h1: shift(3),
  h2: shift(4),
  h3: shift(5),
  h4: shift(6),
  h5: shift(6),
  h6: shift(6),
  a: ({ href, children }) =>
    href
      ? createElement("a", { href, rel: "nofollow noopener noreferrer" }, children)
      : createElement("span", null, children),
  img: ({ alt }) => createElement("span", { className: "muted" }, `[image${alt ? `: ${alt}` : ""}]`),
};

/** The description as React elements (wrapped in `div.markdown`). */
export function renderMarkdown(source: string): ReactElement {
  return createElement(
    "div",
    { className: "markdown", "data-testid": "markdown" },
    createElement(ReactMarkdown, { skipHtml: true, components }, source),
  );
}
