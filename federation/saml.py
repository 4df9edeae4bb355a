"""pysaml2 configuration shared by the three services, built once per process.

pysaml2 7.5 signs with RSA-SHA1 unless ``signing_algorithm`` / ``digest_algorithm`` sit inside the
``service.idp`` / ``service.sp`` block (``Config.getattr`` looks there): :func:`service_block`
always puts them there, and the tests check the produced XML, not this dict.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import Config, IdPConfig, SPConfig
from saml2.saml import NAMEID_FORMAT_PERSISTENT
from saml2.sigver import get_xmlsec_binary
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from federation.errors import ConfigurationError
from federation.keys import KeySet, load_key_set, metadata_signing_pair
from federation.saml_backend import encrypts_with_aes_gcm
from federation.saml_metadata import MetadataPublication, PublishedMetadata, signed_metadata
from federation.settings import Settings, metadata_settings

ATTRIBUTE_MAP_DIR = str(Path(__file__).parent / "attributemaps")
SIGNING_ALGORITHM = SIG_RSA_SHA256
DIGEST_ALGORITHM = DIGEST_SHA256
# Cap applied before any inflate/parse (DESIGN §5) of a deflated AuthnRequest in a URL; the POST
# cap is in federation.saml_response.
MAX_REDIRECT_MESSAGE_CHARS = 16 * 1024

__all__ = [
    "BINDING_HTTP_POST",
    "BINDING_HTTP_REDIRECT",
    "NAMEID_FORMAT_PERSISTENT",
    "build_config",
    "metadata_xml",
    "published_metadata",
    "service_block",
]


def service_block(**options: Any) -> dict[str, Any]:
    """A ``service.idp`` or ``service.sp`` block with our algorithms in the place pysaml2 reads."""
    return {
        "signing_algorithm": SIGNING_ALGORITHM,
        "digest_algorithm": DIGEST_ALGORITHM,
        "name_id_format": [NAMEID_FORMAT_PERSISTENT],
        **options,
    }


def build_config(
    settings: Settings,
    services: dict[str, dict[str, Any]],
    metadata_files: list[Path] | None = None,
    entity_id: str | None = None,
    name: str = "",
    key_set: KeySet | None = None,
) -> Config:
    """A pysaml2 :class:`Config` for this service's keys, the given peers and service blocks.

    ``key_set``: the keys this process read at start (:func:`service_key_set`); None reads them now.
    """
    keys = key_set or service_key_set(settings)
    # During a rollover (federation.keys) the next and previous pairs are published beside the
    # current one; only the current one signs, and every encryption pair decrypts.
    signing, other_signing, encryption = keys.signing, keys.other_signing, keys.encryption
    about = metadata_settings(settings)
    missing = [str(p) for p in metadata_files or [] if not p.exists()]
    if missing:
        raise ConfigurationError(
            f"{settings.service}: métadonnées absentes {', '.join(missing)} "
            "(« educonnect-bridge metadata export » les produit pour la démo)"
        )
    config_dict: dict[str, Any] = {
        "entityid": entity_id or settings.entity_id,
        "name": name,
        "service": services,
        "key_file": str(signing.key_file),
        "cert_file": str(signing.cert_file),
        "additional_cert_files": [str(pair.cert_file) for pair in other_signing],
        "encryption_keypairs": [
            {"key_file": str(pair.key_file), "cert_file": str(pair.cert_file)} for pair in encryption
        ],
        "organization": {
            "name": [(about.organization_name, "fr")],
            "display_name": [(about.organization_display_name, "fr")],
            "url": [(about.organization_url, "fr")],
        },
        "contact_person": [
            {
                "contact_type": contact.contact_type,
                "given_name": contact.name,
                "email_address": [f"mailto:{contact.email}"],
            }
            for contact in about.contacts
        ],
        "attribute_map_dir": ATTRIBUTE_MAP_DIR,
        "allow_unknown_attributes": True,
        "accepted_time_diff": settings.clock_skew_seconds,
        # A service on a backend that cannot encrypt AES-GCM publishes its signing key only, so the
        # IdPs of a deployment on xmlsec1 serve its SPs (they refuse an SP that offers an
        # encryption key: federation.saml_idp) and its metadata says assertions come unencrypted.
        # The encryption key pair stays configured: what was encrypted to it is still decrypted.
        "metadata_key_usage": "both" if encrypts_with_aes_gcm(settings.crypto_backend) else "signing",
        "crypto_backend": "xmlsec1",
        "xmlsec_binary": _xmlsec_binary(),
        "delete_tmpfiles": True,
    }
    if metadata_files is not None:  # an empty list: a metadata store with no source yet
        config_dict["metadata"] = {"local": [str(p) for p in metadata_files]}
    # IdPConfig / SPConfig set the context that Config.getattr reads the service block from; a
    # bare Config() reads nothing there and silently falls back to SHA-1.
    config: Config = IdPConfig() if "idp" in services else SPConfig()
    config.load(config_dict)
    return config


def service_key_set(settings: Settings) -> KeySet:
    """The service's SAML keys, read now and pinned under its state dir (federation.keys)."""
    return load_key_set(settings.certs_dir, settings.service, settings.state_dir / "keys")


def metadata_xml(config: Config, settings: Settings, now: dt.datetime | None = None) -> str:
    """Our own metadata document (EntityDescriptor), signed with the metadata-signing key:
    what ``metadata export`` writes and /saml/metadata serves (``federation.saml_metadata``)."""
    return signed_metadata(config, publication(settings), now or dt.datetime.now(dt.UTC))


def published_metadata(config: Config, settings: Settings) -> PublishedMetadata:
    """The metadata a service serves, signed at start and again once its cacheDuration is over."""
    return PublishedMetadata(config, publication(settings))


def publication(settings: Settings) -> MetadataPublication:
    about = metadata_settings(settings)
    pair = metadata_signing_pair(settings.certs_dir, settings.service)
    if not pair.exists():
        raise ConfigurationError(
            f"{pair.key_file} ou {pair.cert_file} absent (clé de signature des métadonnées) : "
            "lancez « educonnect-bridge certs generate »"
        )
    return MetadataPublication(
        signing_key=pair,
        valid_for=dt.timedelta(days=about.valid_days),
        cache_duration=dt.timedelta(hours=about.cache_duration_hours),
        crypto_backend=settings.crypto_backend,
    )


def expired_entities(metadata: Any) -> dict[str, str]:
    """Entity IDs that pysaml2's metadata store dropped for a past ``validUntil``, each with a
    sentence for the operator."""
    expired: dict[str, str] = {}
    for source, loaded in getattr(metadata, "metadata", {}).items():
        for entity_id in getattr(loaded, "to_old", []):
            expired[entity_id] = (
                f"les métadonnées de {entity_id} ({source}) ont dépassé leur validUntil : "
                "récupérez-en une copie à jour"
            )
    return expired


def entity_ids_of(metadata_file: Path) -> list[str]:
    """Entity IDs described by a metadata file; refuses a file that is not SAML metadata."""
    from saml2.mdstore import MetaDataFile

    try:
        metadata = MetaDataFile(None, str(metadata_file))
        metadata.load()
    except Exception as exc:  # pysaml2 raises parser errors of many kinds
        raise ConfigurationError(f"{metadata_file}: métadonnées SAML illisibles ({exc})") from exc
    entity_ids = list(metadata.keys())
    if not entity_ids:
        raise ConfigurationError(f"{metadata_file}: aucune entité SAML")
    return entity_ids


def _xmlsec_binary() -> str:
    # pysaml2 wants the binary even when the in-process backend signs (it probes it at start).
    try:
        return str(get_xmlsec_binary(["/usr/bin", "/usr/local/bin"]))
    except Exception as exc:  # pysaml2 raises SigverError without a stable subclass
        raise ConfigurationError("programme xmlsec1 introuvable (paquet Debian xmlsec1)") from exc
