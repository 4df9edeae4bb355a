"""The pages every French public service links from its footer: « Mentions légales »,
« Données personnelles » and the « Déclaration d'accessibilité » (RGAA 4.1 model), served by
each of the three services at the same paths.

What the accessibility statement says about tests is data here, checked by the browser suite
(tests/browser_e2e/test_page_weight.py): the axe-core version and rule sets are the ones the suite
runs on every page it visits (tests/browser_e2e/parent_browser.py), with no violation.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, current_app, render_template

from federation.settings import Settings

# The statement's « Résultats des tests »: what the browser suite measures.
AXE_CORE_VERSION = "4.14.1"
AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
STATEMENT_DATE = "3 décembre 2026"  # the day of the measure the statement reports
# The pages the suite walks and checks with axe at 1 280 px (and 360 px for the key ones).
TESTED_PAGES = (
    "Services en ligne : accueil, choix de l'établissement, page de l'établissement, aucun élève rattaché",
    "ÉduConnect : connexion, erreur de connexion, ajout d'élèves, compte créé, déconnexion",
    "ATEN : connexion (parcours de transition), accueil sans demande en cours",
    "ÉduConnect : choix du mot de passe avec la règle affichée, identifiant à noter",
    "Pages d'erreur des trois services (session expirée, formulaire expiré, page introuvable…)",
    "Mentions légales, données personnelles et cette déclaration",
)


@dataclass(frozen=True)
class Publisher:
    """Who publishes a service and answers for its data (« Mentions légales », RGPD art. 13)."""

    name: str
    controller: str  # responsable du traitement
    data_protection_officer: str
    processed_data: str  # what the service keeps about a parent


MINISTRY = "Ministère de l'Éducation nationale, 110 rue de Grenelle, 75357 Paris SP 07"

PUBLISHERS: dict[str, Publisher] = {
    "idp": Publisher(
        name=MINISTRY,
        controller="le ministre chargé de l'éducation nationale",
        data_protection_officer="le délégué à la protection des données du ministère (dpd@education.gouv.fr)",
        processed_data=(
            "votre identifiant ÉduConnect, vos nom et prénom, l'empreinte de votre mot de passe (jamais le "
            "mot de passe lui-même), votre adresse électronique si vous la donnez, le lien avec votre "
            "compte ATEN, les élèves rattachés à votre compte et les dates de vos connexions"
        ),
    ),
    "ent": Publisher(
        name="le rectorat de l'académie, pour le compte des établissements",
        controller="le recteur de l'académie",
        data_protection_officer="le délégué à la protection des données de l'académie",
        processed_data=(
            "les informations transmises par ÉduConnect à la connexion (nom, prénom, identifiant opaque, "
            "élèves rattachés et leurs établissements), le temps de votre session"
        ),
    ),
    "aten": Publisher(
        name="le rectorat de l'académie",
        controller="le recteur de l'académie",
        data_protection_officer="le délégué à la protection des données de l'académie",
        processed_data=(
            "votre compte ATEN (identifiant, nom, prénom, adresse électronique, enfants), lu dans l'annuaire "
            "de l'académie pour créer votre compte ÉduConnect ; le nombre d'essais de connexion incorrects"
        ),
    ),
}


def _context() -> dict[str, object]:
    settings: Settings = current_app.extensions["settings"]
    return {
        "publisher": PUBLISHERS[settings.service],
        "service_url": settings.base_url,
        "session_minutes": settings.session_ttl_seconds // 60,
        "axe_version": AXE_CORE_VERSION,
        "statement_date": STATEMENT_DATE,
        "tested_pages": TESTED_PAGES,
    }


def legal_notice() -> str:
    return render_template("legal_notice.html", **_context())


def personal_data() -> str:
    return render_template("personal_data.html", **_context())


def accessibility_statement() -> str:
    return render_template("accessibility.html", **_context())


def add_legal_pages(blueprint: Blueprint) -> None:
    """The three pages, at the same paths in every service (the footer links to them)."""
    blueprint.add_url_rule("/mentions-legales", "legal_notice", legal_notice)
    blueprint.add_url_rule("/donnees-personnelles", "personal_data", personal_data)
    blueprint.add_url_rule("/accessibilite", "accessibility_statement", accessibility_statement)
