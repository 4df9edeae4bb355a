"""ÉduConnect acting as SAML SP toward ATEN, as the tests play it (pysaml2 ``Saml2Client``).

Entity ID ``https://idp.test/saml/sp/metadata``, ACS ``https://idp.test/saml/sp/acs``
(HTTP-POST), the IdP's keys from the ``deployment`` fixture: what the real ÉduConnect SP will
present to ATEN.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import lxml.html
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from werkzeug.test import TestResponse

from federation.saml import SIGNING_ALGORITHM, build_config, metadata_xml, service_block
from federation.settings import Settings
from tests.conftest import BASE_URLS, Deployment

ATEN = BASE_URLS["aten"]
IDP = BASE_URLS["idp"]
SP_ENTITY_ID = f"{IDP}/saml/sp/metadata"
SP_ACS = f"{IDP}/saml/sp/acs"


def sp_settings(deployment: Deployment) -> Settings:
    return deployment.settings("idp", "sqlite://", None, peer_metadata=[], service_providers=[])


def sp_services(acs_url: str = SP_ACS) -> dict[str, dict[str, object]]:
    return {
        "sp": service_block(
            name="ÉduConnect (SP vers ATEN)",
            endpoints={"assertion_consumer_service": [(acs_url, BINDING_HTTP_POST)]},
            authn_requests_signed=True,
            want_response_signed=True,
            want_assertions_signed=True,
            allow_unsolicited=False,
        )
    }


def write_sp_metadata(deployment: Deployment, path: Path, entity_id: str = SP_ENTITY_ID) -> Path:
    settings = sp_settings(deployment)
    path.write_text(metadata_xml(build_config(settings, sp_services(), entity_id=entity_id), settings))
    return path


@dataclass
class EduConnectSp:
    client: Saml2Client
    outstanding: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(
        cls, deployment: Deployment, aten_metadata: Path, entity_id: str = SP_ENTITY_ID
    ) -> EduConnectSp:
        config = build_config(
            sp_settings(deployment), sp_services(), metadata_files=[aten_metadata], entity_id=entity_id
        )
        return cls(Saml2Client(config))

    def authn_url(self, sign: bool = True, **kwargs: Any) -> str:
        """A signed (RSA-SHA256) AuthnRequest to ATEN, HTTP-Redirect binding."""
        idp_entity_id = next(iter(self.client.metadata.identity_providers()))
        request_id, info = self.client.prepare_for_authenticate(
            entityid=idp_entity_id,
            relay_state="etat-relais",
            binding=BINDING_HTTP_REDIRECT,
            sign=sign,
            sigalg=SIGNING_ALGORITHM,
            **kwargs,
        )
        self.outstanding[request_id] = "/"
        location: str = dict(info["headers"])["Location"]
        return location

    def parse(self, saml_response: str) -> Any:
        """pysaml2's strict check: signatures, InResponseTo, audience, destination, times."""
        return self.client.parse_authn_request_response(
            saml_response, BINDING_HTTP_POST, outstanding=dict(self.outstanding)
        )


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def with_query(url: str, params: dict[str, str]) -> str:
    return url.split("?", 1)[0] + "?" + urlencode(params)


def post_fields(page: TestResponse) -> tuple[str, dict[str, str]]:
    """Action and hidden fields of the SAML HTTP-POST page."""
    doc = lxml.html.fromstring(page.get_data(as_text=True))
    forms = doc.xpath('//form[@id="saml-post"]')
    assert forms, page.get_data(as_text=True)[:500]
    fields = {i.get("name"): i.get("value", "") for i in forms[0].xpath(".//input") if i.get("name")}
    return forms[0].get("action"), fields


def decoded_response(fields: dict[str, str]) -> str:
    return base64.b64decode(fields["SAMLResponse"]).decode("utf-8")
