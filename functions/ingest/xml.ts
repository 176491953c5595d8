// A small strict XML reader for sitemaps and feeds: elements, attributes, text, CDATA and the five
// predefined entities plus numeric ones. Strict on purpose: a malformed feed must fail its listing with a
// message that names the problem, not yield half a list that would make indexing drop documents.
import { truncate } from "../shared/truncate.ts";

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

export class XmlError extends Error {
  override name = "XmlError";
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

export function decodeEntities(s: string, strict = false): string {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z][a-z0-9]*);?/gi, (m, ent: string) => {
    if (ent[0] === "#") {
      const code =
        ent[1] === "x" || ent[1] === "X" ? Number.parseInt(ent.slice(2), 16) : Number(ent.slice(1));
      return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : m;
    }
    const v = ENTITIES[ent.toLowerCase()] ?? NAMED_HTML[ent.toLowerCase()];
    if (v === undefined && strict) throw new XmlError(`unknown entity ${m}`);
    return v ?? m;
  });
}

// A few HTML entities that show up in feed text; XML proper only knows the five above.
const NAMED_HTML: Record<string, string> = { nbsp: " ", mdash: "—", ndash: "–", hellip: "…", copy: "©" };

function localName(qname: string): string {
  const i = qname.indexOf(":");
  return i < 0 ? qname : qname.slice(i + 1);
}

export function parseXml(src: string): XmlElement {
  const root: XmlElement = { name: "#document", attrs: {}, children: [], text: "" };
  const stack: XmlElement[] = [root];
  let i = 0;
  const line = (pos: number) => src.slice(0, pos).split("\n").length;
  while (i < src.length) {
    const lt = src.indexOf("<", i);
    const top = stack[stack.length - 1]!;
    if (lt < 0) {
      top.text += decodeEntities(src.slice(i));
      break;
    }
    if (lt > i) top.text += decodeEntities(src.slice(i, lt));
    if (src.startsWith("<!--", lt)) {
      const end = src.indexOf("-->", lt + 4);
      if (end < 0) throw new XmlError(`unterminated comment at line ${line(lt)}`);
      i = end + 3;
    } else if (src.startsWith("<![CDATA[", lt)) {
      const end = src.indexOf("]]>", lt + 9);
      if (end < 0) throw new XmlError(`unterminated CDATA at line ${line(lt)}`);
      top.text += src.slice(lt + 9, end);
      i = end + 3;
    } else if (src.startsWith("<?", lt)) {
      const end = src.indexOf("?>", lt + 2);
      if (end < 0) throw new XmlError(`unterminated processing instruction at line ${line(lt)}`);
      i = end + 2;
    } else if (src.startsWith("<!", lt)) {
      const end = src.indexOf(">", lt + 2);
      if (end < 0) throw new XmlError(`unterminated declaration at line ${line(lt)}`);
      i = end + 1;
    } else if (src[lt + 1] === "/") {
      const end = src.indexOf(">", lt);
      if (end < 0) throw new XmlError(`unterminated closing tag at line ${line(lt)}`);
      const name = localName(src.slice(lt + 2, end).trim());
      if (stack.length === 1 || top.name !== name) {
        throw new XmlError(`closing tag </${name}> at line ${line(lt)} does not match <${top.name}>`);
      }
      stack.pop();
      i = end + 1;
    } else {
      const m = /^<([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/.exec(
        src.slice(lt, lt + 4096),
      );
      if (!m)
        throw new XmlError(
          `malformed tag at line ${line(lt)}: ${truncate(src.slice(lt, lt + 41), 40).split("\n")[0]}`,
        );
      const el: XmlElement = { name: localName(m[1]!), attrs: {}, children: [], text: "" };
      for (const a of m[2]!.matchAll(/([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g)) {
        el.attrs[localName(a[1]!)] = decodeEntities(a[2] ?? a[3] ?? "");
      }
      top.children.push(el);
      if (m[3] !== "/") stack.push(el);
      i = lt + m[0].length;
    }
  }
  if (stack.length > 1) throw new XmlError(`document ends inside <${stack[stack.length - 1]!.name}>`);
  const elements = root.children;
  if (elements.length !== 1) throw new XmlError(`expected one root element, found ${elements.length}`);
  return elements[0]!;
}

export function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}

export function childrenNamed(el: XmlElement, name: string): XmlElement[] {
  return el.children.filter((c) => c.name === name);
}

export function childText(el: XmlElement, name: string): string {
  return child(el, name)?.text.trim() ?? "";
}
