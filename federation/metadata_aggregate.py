"""A federation's signed SAML metadata aggregate (an ``md:EntitiesDescriptor``), fetched, checked
and kept as the last good copy.

Rules (SAML metadata §2.3.1 and §3; DESIGN §5, "the SP registry refreshed from a signed aggregate"):

* the source is a file or an HTTPS URL (the server's certificate checked, against ``ca_file``
  when given), read up to :data:`MAX_AGGREGATE_BYTES`;
* the document has no DOCTYPE, its element is ``md:EntitiesDescriptor`` carrying ``ID`` and
  ``validUntil``, and exactly one enveloped signature over that element itself (Reference
  ``#<its ID>``, exclusive c14n, SHA-256 or better: no wrapping of a signed aggregate inside an
  unsigned one), whose value pysaml2 then checks (``MetaDataLoader`` with ``cert``) with the
  federation operator's certificate only, on the configured backend (python-xmlsec or xmlsec1);
  pysaml2 alone would accept an unsigned aggregate and verify whichever signature comes first;
* ``validUntil`` is in the future;
* no rollback: a refresh whose ``validUntil`` (or, when both carry one,
  ``mdrpi:PublicationInfo/@creationInstant``) is earlier than the kept copy's is refused, so an
  old genuinely signed aggregate cannot bring back SPs or keys removed since;
* a refresh that fails any of these, or cannot read the source, changes nothing: the last good
  copy (``<copy_dir>/aggregate.xml``) stays, the failure is logged and written to
  ``<copy_dir>/status.json``. A good one replaces the copy atomically (``os.replace``): a reader
  sees the old copy or the new one, never a part.

Whoever uses the copy (``idp/sp_registry.py``) checks it again when it loads it: the copy on disk
is trusted no more than the source.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import logging
import os
import ssl
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from saml2.mdstore import MetaDataLoader
from saml2.sigver import CryptoBackend, SecurityContext, SignatureError
from saml2.time_util import str_to_time

from federation.xml_security import XmlSecurityError, check_enveloped_signature, parse_xml

log = logging.getLogger("educonnect.metadata")

MD_NS = "urn:oasis:names:tc:SAML:2.0:metadata"
MDRPI_NS = "urn:oasis:names:tc:SAML:metadata:rpi"
ENTITIES_DESCRIPTOR = f"{MD_NS}:EntitiesDescriptor"
# A national federation's aggregate is a few MB; eduGAIN's, the largest known, about 80 MB.
MAX_AGGREGATE_BYTES = 128 * 1024 * 1024
COPY_NAME = "aggregate.xml"
STATUS_NAME = "status.json"
LOCK_NAME = "refresh.lock"


@dataclass(frozen=True)
class AggregateSettings:
    """The ``[sp_aggregate]`` table of ``idp.toml`` (``idp/sp_registry.py`` reads it)."""

    source: str  # a file path or an https:// URL
    signer_certificate: Path  # the federation operator's metadata-signing certificate (PEM)
    copy_dir: Path  # where the last good copy and the status are kept (shared by the workers)
    refresh_seconds: int = 3600
    ca_file: Path | None = None  # CA bundle for the HTTPS server (None: the system's)
    timeout_seconds: int = 30
    attributes: tuple[str, ...] = ()  # released to the SPs of the aggregate

    @property
    def copy_file(self) -> Path:
        return self.copy_dir / COPY_NAME

    @property
    def status_file(self) -> Path:
        return self.copy_dir / STATUS_NAME


class AggregateRefused(Exception):
    """A source or copy not taken; ``reason``: unreachable, too_large, unparsable, signature, expired."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class VerifiedAggregate:
    """An aggregate whose signature and validity were checked: its entities as pysaml2 parsed them."""

    metadata: MetaDataLoader  # a pysaml2 metadata source, ready for a MetadataStore
    valid_until: dt.datetime
    entity_ids: tuple[str, ...]


@dataclass(frozen=True)
class RefreshOutcome:
    is_good: bool
    message: str  # a sentence for the operator (CLI output, log)
    valid_until: dt.datetime | None = None


def read_source(settings: AggregateSettings) -> bytes:
    """The bytes of the source: a file, or an HTTPS GET (TLS checked), at most the size cap."""
    source = settings.source
    try:
        if source.startswith("https://"):
            context = ssl.create_default_context(cafile=str(settings.ca_file) if settings.ca_file else None)
            request = urllib.request.Request(source, headers={"Accept": "application/samlmetadata+xml"})  # noqa: S310
            opened = urllib.request.urlopen(request, timeout=settings.timeout_seconds, context=context)  # noqa: S310
            with opened as response:  # https:// only, checked above
                data: bytes = response.read(MAX_AGGREGATE_BYTES + 1)
        elif "://" in source:
            raise AggregateRefused("unreachable", f"{source} : seules les adresses https:// sont lues")
        else:
            with open(source, "rb") as fh:
                data = fh.read(MAX_AGGREGATE_BYTES + 1)
    except (OSError, urllib.error.URLError, ssl.SSLError) as exc:
        raise AggregateRefused("unreachable", f"{source} illisible ({exc})") from exc
    if len(data) > MAX_AGGREGATE_BYTES:
        raise AggregateRefused("too_large", f"{source} dépasse {MAX_AGGREGATE_BYTES} octets")
    return data


def verify(
    xml: bytes, signer_certificate: Path, backend: CryptoBackend, attribute_converters: Any, now: dt.datetime
) -> VerifiedAggregate:
    """Check ``xml`` as the module docstring says; the entities it describes, parsed by pysaml2."""
    try:
        root = parse_xml(xml)
    except XmlSecurityError as exc:
        raise AggregateRefused("unparsable", str(exc)) from exc
    if root.tag != f"{{{MD_NS}}}EntitiesDescriptor":
        raise AggregateRefused("unparsable", f"l'élément racine n'est pas md:EntitiesDescriptor ({root.tag})")
    valid_until = _valid_until(root.get("validUntil"))
    if valid_until <= now:
        raise AggregateRefused("expired", f"validUntil {root.get('validUntil')} est passé")
    try:
        check_enveloped_signature(root, ENTITIES_DESCRIPTOR)
    except XmlSecurityError as exc:
        raise AggregateRefused("signature", f"signature absente ou hors profil ({exc})") from exc
    # pysaml2's MetaDataLoader ignores what the backend answers: ask it ourselves, about the root.
    try:
        valid = backend.validate_signature(
            xml.decode("utf-8"), str(signer_certificate), "pem", ENTITIES_DESCRIPTOR, root.get("ID")
        )
    except Exception as exc:  # SignatureError, XmlsecError, a bad encoding…: all mean "refused"
        raise AggregateRefused(
            "signature", f"la signature n'est pas valide pour le certificat {signer_certificate} ({exc})"
        ) from exc
    if valid is not True:
        raise AggregateRefused(
            "signature", f"la signature n'est pas valide pour le certificat {signer_certificate}"
        )
    metadata = MetaDataLoader(
        attribute_converters,
        lambda: xml,
        cert=str(signer_certificate),
        security=SecurityContext(backend),
        node_name=ENTITIES_DESCRIPTOR,
        filename="aggregate",  # MetaDataFile wants a name; only error messages show it
    )
    try:
        metadata.load()
    except SignatureError as exc:
        raise AggregateRefused(
            "signature", f"la signature n'est pas valide pour le certificat {signer_certificate} ({exc})"
        ) from exc
    except Exception as exc:  # pysaml2: SAMLError, TooOld, XmlsecError…
        raise AggregateRefused("unparsable", f"{type(exc).__name__}: {exc}") from exc
    described = root.findall(f"{{{MD_NS}}}EntityDescriptor")
    if metadata.entities_descr is None or (described and not metadata.keys()):
        # pysaml2 logs a schema violation and returns without entities: not an empty aggregate.
        raise AggregateRefused("unparsable", "l'agrégat n'est pas conforme au schéma SAML metadata")
    return VerifiedAggregate(metadata=metadata, valid_until=valid_until, entity_ids=tuple(metadata.keys()))


def refresh(
    settings: AggregateSettings, backend: CryptoBackend, attribute_converters: Any, now: dt.datetime
) -> RefreshOutcome:
    """Fetch and check the source; replace the copy only when it is good. Logged either way."""
    settings.copy_dir.mkdir(parents=True, exist_ok=True)
    with _refresh_lock(settings.copy_dir):
        try:
            xml = read_source(settings)
            verified = verify(xml, settings.signer_certificate, backend, attribute_converters, now)
            _check_not_older_than_copy(settings, parse_xml(xml))
        except AggregateRefused as exc:
            kept = copy_valid_until(settings)
            keeping = (
                f"la dernière copie valide est conservée (valide jusqu'au {kept.isoformat()})"
                if kept
                else "aucune copie valide n'est disponible : les SP de l'agrégat ne sont pas servis"
            )
            message = f"agrégat de métadonnées {settings.source} refusé ({exc.reason}) : {exc.detail}"
            message += f" ; {keeping}"
            log.error(message)
            _write_status(settings, now, False, message, kept)
            return RefreshOutcome(False, message, kept)
        _replace_file(settings.copy_file, xml)
        message = (
            f"agrégat de métadonnées {settings.source} accepté : {len(verified.entity_ids)} entité(s), "
            f"valide jusqu'au {verified.valid_until.isoformat()}"
        )
        log.warning(message)  # who can sign in changes: worth a line at the default level
        _write_status(settings, now, True, message, verified.valid_until)
        return RefreshOutcome(True, message, verified.valid_until)


def last_attempt(settings: AggregateSettings) -> dt.datetime | None:
    """When a refresh (good or not, by any process) last ran; None before the first one."""
    try:
        status = json.loads(settings.status_file.read_text(encoding="utf-8"))
        return dt.datetime.fromisoformat(status["attempted_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def copy_valid_until(settings: AggregateSettings) -> dt.datetime | None:
    """The ``validUntil`` of the kept copy (not re-verified: for messages only)."""
    try:
        root = parse_xml(settings.copy_file.read_bytes())
        return _valid_until(root.get("validUntil"))
    except (OSError, XmlSecurityError, AggregateRefused):
        return None


def _check_not_older_than_copy(settings: AggregateSettings, fresh: Any) -> None:
    """Refuse a rollback to an older aggregate than the kept copy (compared by creationInstant
    when both carry mdrpi:PublicationInfo, by validUntil otherwise)."""
    try:
        kept = parse_xml(settings.copy_file.read_bytes())
    except (OSError, XmlSecurityError):
        return  # no copy yet (or an unreadable one): nothing to roll back from
    fresh_created, kept_created = _creation_instant(fresh), _creation_instant(kept)
    if fresh_created is not None and kept_created is not None:
        if fresh_created < kept_created:
            raise AggregateRefused(
                "rollback",
                f"creationInstant {fresh_created.isoformat()} antérieur à celui de la copie conservée "
                f"({kept_created.isoformat()}) : un agrégat plus ancien n'en remplace pas un plus récent",
            )
        return
    try:
        kept_until = _valid_until(kept.get("validUntil"))
    except AggregateRefused:
        return
    fresh_until = _valid_until(fresh.get("validUntil"))
    if fresh_until < kept_until:
        raise AggregateRefused(
            "rollback",
            f"validUntil {fresh_until.isoformat()} antérieur à celui de la copie conservée "
            f"({kept_until.isoformat()}) : un agrégat plus ancien n'en remplace pas un plus récent",
        )


def _creation_instant(root: Any) -> dt.datetime | None:
    info = root.find(f"{{{MD_NS}}}Extensions/{{{MDRPI_NS}}}PublicationInfo")
    value = info.get("creationInstant") if info is not None else None
    if not value:
        return None
    try:
        year, month, day, hour, minute, second = str_to_time(value)[:6]
    except (TypeError, ValueError) as exc:
        raise AggregateRefused("unparsable", f"creationInstant {value!r} n'est pas une date") from exc
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


def _valid_until(value: str | None) -> dt.datetime:
    if not value:
        raise AggregateRefused("expired", "l'agrégat n'a pas de validUntil (SAML metadata §2.3.1)")
    try:
        year, month, day, hour, minute, second = str_to_time(value)[:6]
    except (TypeError, ValueError) as exc:
        raise AggregateRefused("unparsable", f"validUntil {value!r} n'est pas une date") from exc
    return dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.UTC)


def _replace_file(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_status(
    settings: AggregateSettings, now: dt.datetime, good: bool, message: str, valid_until: dt.datetime | None
) -> None:
    status = {
        "attempted_at": now.isoformat(),
        "good": good,
        "message": message,
        "valid_until": valid_until.isoformat() if valid_until else None,
    }
    _replace_file(settings.status_file, json.dumps(status, ensure_ascii=False).encode())


@contextmanager
def _refresh_lock(directory: Path) -> Iterator[None]:
    """One refresh at a time across the workers and the CLI sharing ``directory``."""
    with (directory / LOCK_NAME).open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
