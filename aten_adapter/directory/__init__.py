"""Directory backends of ATEN (DESIGN §3): an LDIF file (embedded default) or an LDAP server.

Both implement :class:`aten_adapter.domain.parents.ParentDirectory` and read entries through
:mod:`aten_adapter.directory.entries`, so one parent has the same attributes whichever answers.
"""

from __future__ import annotations

from aten_adapter.domain.parents import ParentDirectory
from aten_adapter.settings import DirectorySettings


def open_directory(settings: DirectorySettings) -> ParentDirectory:
    if settings.backend == "ldap" and settings.ldap is not None:
        from aten_adapter.directory.ldap_directory import LdapDirectory

        return LdapDirectory(settings.ldap)
    if settings.backend == "ldif" and settings.ldif_file is not None:
        from aten_adapter.directory.ldif_directory import LdifDirectory

        return LdifDirectory.from_file(settings.ldif_file)
    raise ValueError(f"directory settings incomplete: {settings}")
