import { describe, expect, it } from "vitest";
import { htmlToText } from "../../../functions/ingest/html.ts";

describe("html", () => {
  it("keeps the title, turns headings into markdown and drops scripts and navigation", () => {
    const page = htmlToText(
      "<html><head><title>Hi &amp; bye</title></head><body><nav>menu</nav><h2>Part</h2><p>one<br>two</p><script>x()</script></body></html>",
    );
    expect(page.title).toBe("Hi & bye");
    expect(page.text).toBe("## Part\n\none\ntwo");
  });
});
