"""SAML messages as they cross the parent's browser, captured from real flows through the services.

``RecordingBrowser`` is the tests' ``Browser`` that also keeps every ``SAMLRequest`` and
``SAMLResponse`` it carries: from a URL (HTTP-Redirect binding, deflated, SAML bindings §3.4.4)
or from a posted form (HTTP-POST binding, §3.5.4), as the XML bytes the sender produced.
"""

from __future__ import annotations

import base64
import zlib
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from lxml import etree
from werkzeug.test import TestResponse

from tests.browser import Browser

SAML_PARAMETERS = ("SAMLRequest", "SAMLResponse")


@dataclass(frozen=True)
class CapturedMessage:
    binding: str  # "redirect" or "post"
    url: str  # where the browser carried it
    xml: bytes

    @property
    def root(self) -> etree._Element:
        return etree.fromstring(self.xml)

    @property
    def kind(self) -> str:
        """The root element's local name: AuthnRequest, Response, LogoutRequest, LogoutResponse."""
        return etree.QName(self.root).localname

    @property
    def issuer(self) -> str:
        (issuer,) = self.root.xpath("./*[local-name()='Issuer']/text()")
        return str(issuer)


@dataclass
class RecordingBrowser(Browser):
    captured: list[CapturedMessage] = field(default_factory=list)

    def get(self, url: str) -> TestResponse:
        for name, values in parse_qs(urlsplit(url).query).items():
            if name in SAML_PARAMETERS:
                xml = zlib.decompress(base64.b64decode(values[0]), -15)
                self.captured.append(CapturedMessage("redirect", url, xml))
        return super().get(url)

    def post(self, url: str, data: dict[str, str], referer: str | None = None) -> TestResponse:
        for name in SAML_PARAMETERS:
            if name in data:
                self.captured.append(CapturedMessage("post", url, base64.b64decode(data[name])))
        return super().post(url, data, referer)

    def messages(self, kind: str, issuer: str) -> list[CapturedMessage]:
        return [m for m in self.captured if m.kind == kind and m.issuer == issuer]
