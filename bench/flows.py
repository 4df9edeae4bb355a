"""Multi-service operations of the load process: a small browser (one kept-alive connection and
one cookie jar per service, redirects followed, forms submitted as a browser would) and the flows
it plays, e.g. (c) the whole parcours de transition ENT → ÉduConnect → ATEN → ÉduConnect → ENT.

A flow is timed as one operation; each lane plays its flows one after the other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urlencode, urljoin, urlsplit

import lxml.html

from bench.loopback_http import Connection, Reply

MAX_REDIRECTS = 10


class FlowFailed(Exception):
    pass


class FlowBrowser:
    """``hosts`` maps each public origin (``https://idp.bench.test``) to its local port."""

    def __init__(self, hosts: Mapping[str, int]) -> None:
        self.connections = {origin: Connection(port) for origin, port in hosts.items()}
        self.cookies: dict[str, dict[str, str]] = {origin: {} for origin in hosts}
        self.url = ""
        self.reply: Reply | None = None

    def close(self) -> None:
        for connection in self.connections.values():
            connection.close()

    def open(self, method: str, url: str, fields: Mapping[str, str] | None = None) -> Reply:
        """One request; the reply's cookies go into the jar of its origin."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        if origin not in self.connections:
            raise FlowFailed(f"{method} {url[:80]}: not a service of the deployment")
        jar = self.cookies[origin]
        cookie = "; ".join(f"{name}={value}" for name, value in jar.items()) or None
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        body = urlencode(fields).encode() if fields is not None else None
        reply = self.connections[origin].request(method, path, body, cookie)
        for header in reply.set_cookies:
            name, _, rest = header.partition("=")
            value, _, attributes = rest.partition(";")
            if "max-age=0" in attributes.lower().replace(" ", ""):
                jar.pop(name.strip(), None)
            else:
                jar[name.strip()] = value
        self.url, self.reply = url, reply
        return reply

    def go(self, method: str, url: str, fields: Mapping[str, str] | None = None) -> Reply:
        """A request, then its redirects (GET), to the first page that is not a redirect."""
        reply = self.open(method, url, fields)
        for _ in range(MAX_REDIRECTS):
            if not 300 <= reply.status < 400:
                if reply.status != 200:
                    raise FlowFailed(f"{method} {self.url[:80]}: HTTP {reply.status}")
                return reply
            reply = self.open("GET", urljoin(self.url, reply.location))
        raise FlowFailed(f"too many redirects from {url[:80]}")

    def submit(self, form_id: str | None = None, **values: str) -> Reply:
        """Post a form of the current page (its hidden fields, then ``values``)."""
        form = self._form(form_id)
        fields = {
            field.get("name"): field.get("value") or ""
            for field in form.xpath(".//input[@name]")
            if field.get("type") != "submit"
        }
        fields.update(values)
        return self.go("POST", urljoin(self.url, form.get("action") or self.url), fields)

    def link(self, text: str) -> Reply:
        hrefs = self._page().xpath("//a[normalize-space()=$t]/@href", t=text)
        if not hrefs:
            raise FlowFailed(f"no « {text} » link on {self.url[:80]}")
        return self.go("GET", urljoin(self.url, str(hrefs[0])))

    def expect(self, text: str) -> None:
        if self.reply is None or text.encode() not in self.reply.body:
            raise FlowFailed(f"{text!r} not on {self.url[:80]}")

    def _page(self) -> lxml.html.HtmlElement:
        if self.reply is None:
            raise FlowFailed("no page yet")
        return lxml.html.fromstring(self.reply.body)

    def _form(self, form_id: str | None) -> lxml.html.HtmlElement:
        forms = self._page().xpath("//form[@id=$i]" if form_id else "//form[@method='post']", i=form_id)
        if not forms:
            raise FlowFailed(f"no form {form_id or ''} on {self.url[:80]}")
        return forms[0]


def transition(browser: FlowBrowser, params: Mapping[str, str]) -> None:
    """(c) A parent with an ATEN account only: the ENT's « Je n'ai pas de compte Educonnect »,
    ATEN's login, ÉduConnect's account creation (password chosen: argon2id), the ENT's page."""
    ent, idp = params["ent"], params["idp"]
    browser.go("GET", f"{ent}/connexion/sans-compte")  # → ÉduConnect → ATEN's login page
    browser.expect("VALIDER")
    browser.submit(identifiant=params["aten_uid"], mot_de_passe=params["aten_password"])
    browser.submit("saml-post")  # ATEN's signed Response → ÉduConnect
    browser.expect("Choisir mon mot de passe")
    browser.go("GET", f"{idp}/transition/mot-de-passe")
    browser.submit(mot_de_passe=params["new_password"], confirmation=params["new_password"])
    browser.expect("Votre compte est créé.")
    browser.link("Continuer")  # ÉduConnect's signed Response page
    browser.submit("saml-post")  # → the ENT's ACS → its landing page
    browser.expect("Bonjour")


FLOWS: dict[str, Callable[[FlowBrowser, Mapping[str, str]], None]] = {"transition": transition}
