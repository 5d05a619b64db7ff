// Datanet descriptions rendered from Markdown (src/lib/markdown.ts), server-rendered to HTML here: the
// Markdown renders, and nothing from the source can run script or load from elsewhere.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderToStaticMarkup } from "react-dom/server";
import { renderMarkdown } from "../src/lib/markdown.ts";

const html = (md: string) => renderToStaticMarkup(renderMarkdown(md));

describe("Datanet description Markdown", () => {
  it("renders headings (below the page's own), emphasis, lists, code and links", () => {
    const out = html(
      "# Sources\n\nTested in a **home** kitchen.\n\n- eggs\n- flour\n\n`code` [docs](https://example.org/a?b=1)",
    );
    assert.match(out, /<h3>Sources<\/h3>/);
    assert.match(out, /<strong>home<\/strong>/);
    assert.match(out, /<ul>\s*<li>eggs<\/li>\s*<li>flour<\/li>\s*<\/ul>/);
    assert.match(out, /<code>code<\/code>/);
    assert.match(out, /<a href="https:\/\/example.org\/a\?b=1" rel="nofollow noopener noreferrer">docs<\/a>/);
  });

  it("drops raw HTML: no <script>, no inline handlers, no iframes", () => {
    const out = html(
      'Hello <script>alert(1)</script>\n\n<img src=x onerror="alert(2)">\n\n<iframe src="https://evil.example"></iframe>\n\n<b onclick="alert(3)">bold</b>',
    );
    assert.doesNotMatch(out, /<script/i);
    assert.doesNotMatch(out, /onerror|onclick/i);
    assert.doesNotMatch(out, /<iframe/i);
    assert.doesNotMatch(out, /<b[ >]/i);
    assert.match(out, /Hello/);
  });

  it("empties javascript:, vbscript: and data: link targets", () => {
    const out = html(
      "[click](javascript:alert(1)) [v](vbscript:msgbox) [d](data:text/html;base64,PHNjcmlwdD4=) [ok](/relative) <javascript:alert(4)>",
    );
    assert.doesNotMatch(out, /href="[^"]*(javascript|vbscript|data):/i);
    assert.equal(out.match(/<a /g)?.length, 1, "only the relative link is a link");
    assert.match(out, /href="\/relative"/);
    assert.match(out, /<span>click<\/span>/, "the link text stays, as text");
    assert.match(out, /<span>javascript:alert\(4\)<\/span>/, "an autolink to javascript: is only text");
  });

  it("does not load remote images; shows their alt text", () => {
    const out = html("![a tracking pixel](https://tracker.example/p.gif)");
    assert.doesNotMatch(out, /<img/);
    assert.doesNotMatch(out, /tracker\.example/);
    assert.match(out, /\[image: a tracking pixel\]/);
  });
});
