"""Fixtures of the flow tests that mail: the IdP mailing through a real SMTP server."""

from __future__ import annotations

import pytest

from tests.flows.self_service_steps import MailStack, make_idp


@pytest.fixture(scope="module")
def mail_stack(deployment, stack, smtp):
    return MailStack(make_idp(deployment, stack, smtp.mail_settings()), stack.ent, stack.aten, smtp)
