// DOM building without innerHTML: text goes in as text nodes, attributes through
// setAttribute, so a runner's strings (step names, errors, logs) can never create elements.

export type Child = Node | string | number | null | undefined | false | readonly Child[];
export type AttrValue = string | number | boolean | null | undefined;
export type Handler = (ev: Event) => void;
export type Attrs = Record<string, AttrValue | Handler>;

const SVG_NS = "http://www.w3.org/2000/svg";

// Control and format characters (escape sequences, bidi overrides such as U+202E,
// zero-width marks), lone surrogates and private-use code points; line breaks and tabs
// are kept. The same classes as flowwidgets.widgets._static.visible and the TUI.
const UNSAFE = /(?![\n\r\t])[\p{Cc}\p{Cf}\p{Cs}\p{Co}]/gu;

/** ``text`` with control and bidi characters shown as U+FFFD, so a runner's
 * ``evil\u202egnp.exe`` cannot read as "evilexe.png". Every text node and every
 * human-readable attribute (title, aria-label, placeholder, alt) goes through it. */
export function visible(text: string): string {
  return text.replace(UNSAFE, "\ufffd");
}

const READABLE = new Set(["title", "aria-label", "aria-description", "placeholder", "alt"]);

function apply(el: Element, attrs: Attrs | null | undefined): void {
  if (!attrs) return;
  for (const [key, value] of Object.entries(attrs)) {
    if (key.startsWith("on")) {
      if (typeof value !== "function") {
        throw new TypeError(`attribute ${key} must be a function, never a string`);
      }
      el.addEventListener(key.slice(2).toLowerCase(), value);
      continue;
    }
    if (typeof value === "function") throw new TypeError(`attribute ${key} is not an event`);
    if (value === null || value === undefined || value === false) continue;
    const text = value === true ? "" : String(value);
    el.setAttribute(key, READABLE.has(key) ? visible(text) : text);
  }
}

function append(doc: Document, el: Element, children: readonly Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) {
      append(doc, el, child);
    } else if (typeof child === "string" || typeof child === "number") {
      el.appendChild(doc.createTextNode(visible(String(child))));
    } else {
      el.appendChild(child as Node);
    }
  }
}

/** An HTML element with attributes and children (strings become text nodes). */
export function h<K extends keyof HTMLElementTagNameMap>(
  doc: Document,
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = doc.createElement(tag);
  apply(el, attrs);
  append(doc, el, children);
  return el;
}

/** An SVG element with attributes and children (strings become text nodes). */
export function s<K extends keyof SVGElementTagNameMap>(
  doc: Document,
  tag: K,
  attrs?: Attrs | null,
  ...children: Child[]
): SVGElementTagNameMap[K] {
  const el = doc.createElementNS(SVG_NS, tag) as SVGElementTagNameMap[K];
  apply(el, attrs);
  append(doc, el, children);
  return el;
}

/** Replace every child of ``el`` with ``children``. */
export function replaceChildren(el: Element, ...children: Child[]): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  append(el.ownerDocument, el, children);
}

/** Set ``el``'s text only when it differs (avoids needless layout work on polls). */
export function setText(el: Element, text: string): void {
  const shown = visible(text);
  if (el.textContent !== shown) el.textContent = shown;
}
