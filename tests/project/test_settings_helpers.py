from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings import envbool, envint, envsecret


def test_envbool_accepts_the_usual_words_and_refuses_others(monkeypatch) -> None:
    monkeypatch.setenv("FLAG", "yes")
    assert envbool("FLAG", "false") is True
    monkeypatch.setenv("FLAG", "0")
    assert envbool("FLAG", "true") is False
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="FLAG"):
        envbool("FLAG", "false")


def test_envint_names_the_variable_on_bad_values(monkeypatch) -> None:
    monkeypatch.setenv("COUNT", "twelve")
    with pytest.raises(ImproperlyConfigured, match="COUNT"):
        envint("COUNT", "1")


def test_a_secret_is_required_when_debug_is_off(monkeypatch) -> None:
    monkeypatch.delenv("SECRET_KEY_X", raising=False)
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_X"):
        envsecret("SECRET_KEY_X", debug=False)
    assert envsecret("SECRET_KEY_X", debug=True)
