"""Pages a parent lands on without a request in flight still lead somewhere (issue 13, item 4)."""

from __future__ import annotations


def test_after_logout_the_parent_can_go_back_or_sign_in_again(parent):
    parent.goto("idp", "/deconnexion")
    assert "Votre session ÉduConnect est terminée." in parent.page.inner_text("main")
    parent.check("deconnecte", phone=True)
    parent.click_link("Se connecter à nouveau")
    parent.path_is("idp", "/connexion")
    parent.goto("idp", "/deconnexion")
    parent.click_link("Revenir aux Services en ligne")
    parent.path_is("ent", "/")
    assert parent.page.get_by_role("link", name="Je dispose d'un compte Educonnect").is_visible()


def test_aten_opened_directly_leads_to_the_portal(parent):
    parent.goto("aten", "/connexion")
    assert "Aucune demande de connexion n'est en cours" in parent.page.inner_text("main")
    parent.check("aten-sans-demande")
    parent.click_link("Aller aux Services en ligne")
    parent.path_is("ent", "/")
