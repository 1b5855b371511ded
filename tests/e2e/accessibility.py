"""An accessibility check of a page's HTML, in Python (ADR 0019): what axe-core would catch of
the rules the pages promise, without a JavaScript engine or a download at test time.

``accessibility_problems(html)`` answers the broken rules, each a sentence naming the element:

- the document has a ``lang``, a ``<title>``, and the landmarks ``header`` (banner), ``nav``,
  ``main`` (exactly one) and ``footer`` (contentinfo); every ``nav`` has a name;
- exactly one ``h1``, and headings never skip a level going down (h2 -> h4 is a skip);
- every form control a person fills (input other than hidden/submit/button, select, textarea)
  has a ``<label for>`` naming its id, or an ``aria-label``;
- ids are unique, and every ``aria-labelledby`` / ``aria-describedby`` / ``label for`` names
  an element that exists;
- every ``svg`` chart is ``role="img"`` with a name (``aria-labelledby``) and is described by
  a ``<table>`` (its text alternative); every ``img`` has an ``alt``;
- every table has a caption or a name, and header cells.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

FILLED_INPUTS_EXCLUDED = frozenset({"hidden", "submit", "button", "reset", "image"})


@dataclass
class Element:
    tag: str
    attributes: dict[str, str]
    children_tags: list[str] = field(default_factory=list)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.stack: list[Element] = []
        self.headings: list[int] = []
        self.title_text = ""
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        if self.stack:
            self.stack[-1].children_tags.append(tag)
        self.elements.append(element)
        if tag in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            self.headings.append(int(tag[1]))
        if tag == "title":
            self._in_title = True
        if tag not in {
            "meta",
            "link",
            "br",
            "input",
            "img",
            "hr",
            "rect",
            "circle",
            "line",
            "path",
        }:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        if self.stack:
            self.stack[-1].children_tags.append(tag)
        self.elements.append(element)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index].tag == tag:
                del self.stack[index:]
                break

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title_text += data


def accessibility_problems(html: str) -> list[str]:
    collector = _Collector()
    collector.feed(html)
    elements = collector.elements
    problems: list[str] = []

    def all_of(tag: str) -> list[Element]:
        return [e for e in elements if e.tag == tag]

    document = all_of("html")
    if not document or not document[0].attributes.get("lang"):
        problems.append("the <html> element has no lang")
    if not collector.title_text.strip():
        problems.append("the page has no <title>")
    for landmark in ("header", "nav", "footer"):
        if not all_of(landmark):
            problems.append(f"no <{landmark}> landmark")
    if len(all_of("main")) != 1:
        problems.append(f"{len(all_of('main'))} <main> landmarks, not one")
    for nav in all_of("nav"):
        if not nav.attributes.get("aria-label") and not nav.attributes.get("aria-labelledby"):
            problems.append("a <nav> has no name (aria-label)")

    if collector.headings.count(1) != 1:
        problems.append(f"{collector.headings.count(1)} <h1> headings, not one")
    previous = 0
    for level in collector.headings:
        if level > previous + 1:
            problems.append(f"heading h{level} follows h{previous}: a level is skipped")
        previous = level

    ids: dict[str, int] = {}
    for element in elements:
        if "id" in element.attributes:
            ids[element.attributes["id"]] = ids.get(element.attributes["id"], 0) + 1
    problems += [f"id {name!r} is used {n} times" for name, n in ids.items() if n > 1]

    labelled = {e.attributes.get("for", "") for e in all_of("label")}
    for element in elements:
        if element.tag not in {"input", "select", "textarea"}:
            continue
        if element.attributes.get("type", "text") in FILLED_INPUTS_EXCLUDED:
            continue
        name = element.attributes.get("id", "")
        if not (name and name in labelled) and not element.attributes.get("aria-label"):
            problems.append(f"<{element.tag} name={element.attributes.get('name')!r}> has no label")
    for target in labelled:
        if target not in ids:
            problems.append(f"a <label for={target!r}> names no element")

    for element in elements:
        for attribute in ("aria-labelledby", "aria-describedby"):
            for name in element.attributes.get(attribute, "").split():
                if name not in ids:
                    problems.append(f"<{element.tag} {attribute}={name!r}> names no element")

    tables_by_id = {e.attributes["id"] for e in all_of("table") if "id" in e.attributes}
    for svg in all_of("svg"):
        if svg.attributes.get("aria-hidden") == "true":
            continue
        if svg.attributes.get("role") != "img" or not svg.attributes.get("aria-labelledby"):
            problems.append("an <svg> chart is not role=img with a name")
        described = svg.attributes.get("aria-describedby", "").split()
        if not any(name in tables_by_id for name in described):
            problems.append("an <svg> chart is not described by a table of its figures")
    for image in all_of("img"):
        if "alt" not in image.attributes:
            problems.append(f"<img src={image.attributes.get('src')!r}> has no alt")

    for table in all_of("table"):
        if "caption" not in table.children_tags and not table.attributes.get("aria-label"):
            problems.append("a <table> has no caption")
    if all_of("table") and not all_of("th"):
        problems.append("tables without header cells")
    return problems
