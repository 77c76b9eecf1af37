"""The JWT endpoints fill both token tables through simplejwt's real flow."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> APIClient:
    get_user_model().objects.create_user(username="ada", password="correct horse")
    return APIClient()


def test_obtain_refresh_blacklist_fills_both_tables(client: APIClient) -> None:
    obtained = client.post(
        "/api/auth/token/", {"username": "ada", "password": "correct horse"}, format="json"
    )
    assert obtained.status_code == 200
    first_refresh = obtained.json()["refresh"]
    assert OutstandingToken.objects.count() == 1
    assert BlacklistedToken.objects.count() == 0

    refreshed = client.post("/api/auth/token/refresh/", {"refresh": first_refresh}, format="json")
    assert refreshed.status_code == 200
    second_refresh = refreshed.json()["refresh"]
    assert second_refresh != first_refresh
    assert OutstandingToken.objects.count() == 2
    assert list(BlacklistedToken.objects.values_list("token__token", flat=True)) == [first_refresh]

    reused = client.post("/api/auth/token/refresh/", {"refresh": first_refresh}, format="json")
    assert reused.status_code == 401

    logout = client.post("/api/auth/token/blacklist/", {"refresh": second_refresh}, format="json")
    assert logout.status_code == 200
    assert set(BlacklistedToken.objects.values_list("token__token", flat=True)) == {
        first_refresh,
        second_refresh,
    }
    assert OutstandingToken.objects.count() == 2


def test_wrong_password_creates_no_token(client: APIClient) -> None:
    denied = client.post("/api/auth/token/", {"username": "ada", "password": "nope"}, format="json")
    assert denied.status_code == 401
    assert OutstandingToken.objects.count() == 0
