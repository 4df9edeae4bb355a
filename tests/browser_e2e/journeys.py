"""The demo parents (config/demo: aten.ldif header, registry.csv, educonnect_accounts.toml) and the
parts of their journeys that several browser tests share.
"""

from __future__ import annotations

from dataclasses import dataclass

from playwright.sync_api import Locator

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


ECOLE_TILLEULS = ("0861001W", "École élémentaire Les Tilleuls")
WRONG_CREDENTIALS = "L'identifiant ou le mot de passe est incorrect."


def aten_sign_in(
    parent: ParentBrowser, who: AtenParent, password: str | None = None, *, checks: bool = False
) -> None:
    """Help page steps 1–3: « Services en ligne », « Je n'ai pas de compte Educonnect », ATEN."""
    parent.goto("ent", "/")
    if checks:
        assert parent.page.title() == "Accueil – Services en ligne"
        parent.check("services-en-ligne")
    parent.click_link("Je n'ai pas de compte Educonnect")
    parent.path_is("aten", "/connexion")
    if checks:
        assert parent.page.title().startswith("Étape 1 sur 3 – Connexion ATEN")
        parent.check("connexion-aten")
    parent.page.get_by_label("Identifiant").fill(who.uid)
    parent.page.get_by_label("Mot de passe").fill(password or who.password)
    parent.submit("VALIDER")


def choose_password(parent: ParentBrowser, who: AtenParent, *, checks: bool = False) -> None:
    """Step 5 on « Choisir mon mot de passe »: the identifier to note, the password twice, « Confirmer »."""
    parent.path_is("idp", "/transition/mot-de-passe")
    assert parent.page.locator("#identifiant").inner_text() == who.identifier
    if checks:
        parent.check("choisir-mot-de-passe")
    parent.page.get_by_label("Mot de passe", exact=True).fill(NEW_PASSWORD)
    parent.page.get_by_label("Confirmation du mot de passe").fill(NEW_PASSWORD)
    parent.submit("Confirmer")


def account_created(parent: ParentBrowser, who: AtenParent, *, checks: bool = False) -> None:
    """Step 6: « Votre compte est créé. » with the identifier."""
    parent.path_is("idp", "/transition/compte-cree")
    assert parent.page.get_by_role("heading", level=1).inner_text() == "Votre compte est créé."
    assert who.identifier in parent.page.inner_text("main")
    if checks:
        parent.check("compte-cree")


def create_account(parent: ParentBrowser, who: AtenParent, *, checks: bool = False) -> None:
    """Steps 1–6: ends on « Votre compte est créé. » (with ``checks``, each page checked)."""
    aten_sign_in(parent, who, checks=checks)
    parent.path_is("idp", "/transition/compte")
    assert "votre compte ATEN est reconnu" in parent.page.inner_text("main")
    if checks:
        parent.check("compte-aten-reconnu")
    parent.click_link("Choisir mon mot de passe")
    choose_password(parent, who, checks=checks)
    account_created(parent, who, checks=checks)


def fill_birth_date(parent: ParentBrowser, child: str, date: tuple[str, str, str]) -> None:
    fieldset = parent.page.get_by_role("group", name=child)
    for label, value in zip(("Jour", "Mois", "Année"), date, strict=True):
        fieldset.get_by_label(label).fill(value)


def add_children(parent: ParentBrowser, who: AtenParent) -> None:
    """« Ajout d'élèves » with each child's right date of birth."""
    parent.path_is("idp", "/eleves")
    for child, date in who.children.items():
        fill_birth_date(parent, child, date)
    parent.submit("Ajout d'élèves")


def sign_in(parent: ParentBrowser, identifier: str, password: str) -> None:
    """On ÉduConnect's login page: identifiant, mot de passe, « Se connecter »."""
    parent.path_is("idp", "/connexion")
    parent.page.get_by_label("Identifiant").fill(identifier)
    parent.page.get_by_label("Mot de passe").fill(password)
    parent.submit("Se connecter")


def at_establishment(parent: ParentBrowser, uai: str, name: str, *people: str) -> None:
    """The establishment's ENT page, with the parent's and the children's names."""
    parent.path_is("ent", f"/etablissement/{uai}")
    main = parent.page.inner_text("main")
    assert name in main, main
    assert all(person in main for person in people), main


def forgotten(parent: ParentBrowser, typed: str, *, checks: bool = False) -> None:
    """« Services en ligne », « Je dispose d'un compte Educonnect », « Identifiant ou mot de passe
    oublié ? » with an address or an identifier, then « Boîte de réception de la démo »."""
    parent.goto("ent", "/")
    parent.click_link("Je dispose d'un compte Educonnect")
    parent.path_is("idp", "/connexion")
    parent.click_link("Identifiant ou mot de passe oublié ?")
    parent.path_is("idp", "/identifiant-oublie")
    if checks:
        parent.check("oubli-demande")
    parent.page.get_by_label("Adresse électronique ou identifiant").fill(typed)
    parent.submit("Recevoir un message")
    parent.path_is("idp", "/identifiant-oublie/message-envoye")
    assert "Consultez votre messagerie" in parent.page.inner_text("main")
    if checks:
        parent.check("oubli-message-envoye")
    parent.click_link("Boîte de réception de la démo")
    parent.path_is("idp", "/demo/boite-de-reception")


def inbox_message(parent: ParentBrowser, subject: str, to: str) -> Locator:
    """The one message of « Boîte de réception de la démo » with this subject sent to ``to``
    (the mailbox is emptied before each test: ``StackPool.fresh``)."""
    page = parent.page
    messages = page.locator("article").filter(has=page.get_by_role("heading", name=subject, exact=True))
    message = messages.filter(has_text=f"À : {to} –")
    assert message.count() == 1, page.inner_text("main")
    return message
