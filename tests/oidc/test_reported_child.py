"""« Je ne suis pas le représentant légal de cet élève » and OpenID Connect: the reported child
leaves the ID token and userinfo at once, and its right birth date does not attach it again."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from idp.domain.errors import WrongBirthDate
from tests.flows.children_steps import parent_with_children
from tests.oidc.rp import json_body
from tests.registry_helpers import Child, new_establishment


def released(rp, account) -> tuple[str, str]:
    """The ID token's claims and the userinfo answer, as JSON text."""
    tokens = rp.tokens(account)
    claims = rp.verify_id_token(tokens["id_token"], tokens["_request"].nonce)
    return json.dumps(claims), json.dumps(json_body(rp.userinfo(tokens["access_token"])))


def test_a_reported_child_is_no_longer_released_nor_attached_again(op, rp):
    tom = Child("Tom", dt.date(2015, 5, 2), new_establishment(1))
    family = parent_with_children(op, [tom])
    account, children = family.account, op.extensions["idp"].children
    now = dt.datetime.now(dt.UTC)
    children.sync_links(account, now)
    children.submit(account.id, tom.student_id, tom.birth_date, now)
    _, info = released(rp, account)
    assert tom.student_id in info  # released while confirmed
    op.extensions["idp-self-service"].service.report_not_representative(
        account, tom.student_id, "10.0.0.1", now
    )
    id_token, info = released(rp, account)
    assert tom.student_id not in id_token and tom.student_id not in info
    # The link is no longer this parent's: the same answer as a wrong date.
    with pytest.raises(WrongBirthDate):
        children.submit(account.id, tom.student_id, tom.birth_date, now)
    assert not [link for link in children.status(account.id, now).links if link.student_id == tom.student_id]
    id_token, info = released(rp, account)
    assert tom.student_id not in id_token and tom.student_id not in info
