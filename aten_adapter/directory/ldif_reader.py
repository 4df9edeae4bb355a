"""A reader for LDIF content records (RFC 2849), enough for an exported directory.

Supported: ``version: 1``, comments, folded lines (a line starting with one space continues the
previous one), ``attr: value`` and base64 ``attr:: value`` (values that are not safe ASCII,
e.g. « Éloïse »), attribute options kept in the name (``cn;lang-fr``). Refused with the line
number: change records (``changetype:``), ``attr:< URL`` (no file or network access from data),
a record without ``dn:``. Raw UTF-8 values are tolerated, as slapadd tolerates them.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from federation.errors import ConfigurationError


@dataclass(frozen=True)
class LdifRecord:
    dn: str
    line: int  # where the record starts, for error messages
    # Attribute names lowercased (LDAP names are case-insensitive), values in file order.
    attributes: dict[str, list[str]] = field(default_factory=dict)

    def values(self, name: str) -> list[str]:
        return self.attributes.get(name.lower(), [])


def read_ldif(path: Path) -> list[LdifRecord]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"{path}: LDIF illisible ({exc})") from exc
    return parse_ldif(text, source=str(path))


def parse_ldif(text: str, source: str = "<ldif>") -> list[LdifRecord]:
    records = []
    for start, lines in _records(_unfolded_lines(text)):
        records.append(_record(start, lines, source))
    if records and records[0].dn == "" and "version" in records[0].attributes:
        records.pop(0)
    return records


def _unfolded_lines(text: str) -> Iterator[tuple[int, str]]:
    """Logical lines with the number of their first physical line; comments dropped."""
    current: tuple[int, str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith(" ") and current is not None:
            current = (current[0], current[1] + line[1:])
            continue
        if current is not None:
            yield current
        current = (number, line)
    if current is not None:
        yield current


def _records(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, list[tuple[int, str]]]]:
    block: list[tuple[int, str]] = []
    for number, line in lines:
        if line.startswith("#"):
            continue
        if line.strip() == "":
            if block:
                yield block[0][0], block
                block = []
            continue
        block.append((number, line))
    if block:
        yield block[0][0], block


def _record(start: int, lines: list[tuple[int, str]], source: str) -> LdifRecord:
    pairs = [(number, *_attribute(number, line, source)) for number, line in lines]
    first_name = pairs[0][1]
    if first_name == "version" and len(pairs) == 1:
        return LdifRecord(dn="", line=start, attributes={"version": [pairs[0][2]]})
    if first_name == "version":  # "version: 1" directly followed by the first record
        pairs = pairs[1:]
        first_name = pairs[0][1]
    if first_name != "dn":
        raise ConfigurationError(f"{source}:{start}: enregistrement sans « dn: »")
    record = LdifRecord(dn=pairs[0][2], line=start)
    for number, name, value in pairs[1:]:
        if name in ("changetype", "control", "dn"):
            raise ConfigurationError(f"{source}:{number}: « {name}: » non pris en charge ici")
        record.attributes.setdefault(name, []).append(value)
    return record


def _attribute(number: int, line: str, source: str) -> tuple[str, str]:
    name, separator, rest = line.partition(":")
    if not separator or not name or " " in name:
        raise ConfigurationError(f"{source}:{number}: ligne LDIF invalide")
    name = name.lower()
    if rest.startswith(":"):
        try:
            value = base64.b64decode(rest[1:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            raise ConfigurationError(f"{source}:{number}: base64 invalide pour {name}") from exc
        return name, value
    if rest.startswith("<"):
        raise ConfigurationError(f"{source}:{number}: « {name}:< URL » refusé")
    return name, rest.lstrip(" ")
