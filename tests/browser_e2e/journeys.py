"""The demo parents (config/demo: aten.ldif header, registry.csv, educonnect_accounts.toml) and the
parts of their journeys that several browser tests share.
"""

from __future__ import annotations

from dataclasses import dataclass

from tests.browser_e2e.parent_browser import ParentBrowser

NEW_PASSWORD = "Rentree-2026!"


@dataclass(frozen=True)
class AtenParent:
    uid: str
    password: str
    identifier: str  # the ÉduConnect identifier the transition gives
    children: dict[str, tuple[str, str, str]]  # first name -> (jour, mois, année)


ELEGOFF = AtenParent(
    "elegoff", "Aten-LeGoff-86", "e.legoff1", {"Hugo": ("2", "9", "2014"), "Maël": ("27", "1", "2012")}
)
MDURAND = AtenParent("mdurand", "Aten-Durand-86", "m.durand1", {"Léa": ("14", "3", "2017")})
SDALMEIDA = AtenParent(
    "sdalmeida",
    "Aten-DAlmeida-17",
    "s.dalmeida1",
    {"Inès": ("5", "6", "2018"), "Tom": ("19", "11", "2013"), "Nora": ("30", "4", "2010")},
)
HBERNARD = AtenParent("hbernard", "Aten-Bernard-79", "h.bernard1", {})
JDUPONT = AtenParent("jdupont", "Aten-Dupont-86", "j.dupont2", {"Chloé": ("11", "2", "2020")})


def aten_sign_in(parent: ParentBrowser, who: AtenParent, password: str | None = None) -> None:
    """Help page steps 1–3: « Services en ligne », « Je n'ai pas de compte Educonnect », ATEN."""
    parent.goto("ent", "/")
    parent.click_link("Je n'ai pas de compte Educonnect")
    parent.path_is("aten", "/connexion")
    parent.page.get_by_label("Identifiant").fill(who.uid)
    parent.page.get_by_label("Mot de passe").fill(password or who.password)
    parent.click_button("VALIDER")


def create_account(parent: ParentBrowser, who: AtenParent) -> None:
    """Steps 1–6 without stops: ends on « Votre compte est créé. »."""
    aten_sign_in(parent, who)
    parent.path_is("idp", "/transition/compte")
    parent.click_link("Choisir mon mot de passe")
    parent.page.get_by_label("Mot de passe", exact=True).fill(NEW_PASSWORD)
    parent.page.get_by_label("Confirmation du mot de passe").fill(NEW_PASSWORD)
    parent.click_button("Confirmer")
    parent.path_is("idp", "/transition/compte-cree")


def fill_birth_date(parent: ParentBrowser, child: str, date: tuple[str, str, str]) -> None:
    fieldset = parent.page.get_by_role("group", name=child)
    for label, value in zip(("Jour", "Mois", "Année"), date, strict=True):
        fieldset.get_by_label(label).fill(value)
