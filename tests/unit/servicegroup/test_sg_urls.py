import pytest

from svcframe.servicegroup._urls import mask_url, scrub


@pytest.mark.parametrize(
    "url, masked",
    [
        ("postgresql+psycopg2://svc:pw@db/x", "postgresql+psycopg2://svc:***@db/x"),
        (
            "mysql+pymysql://root:p%40ss@127.0.0.1:3306/x",
            "mysql+pymysql://root:***@127.0.0.1:3306/x",
        ),
        ("redis://:secret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        (
            "postgresql://svc:s3cr/et@db:5432/x",
            "postgresql://svc:***@db:5432/x",
        ),
        ("postgresql://svc@db/x", "postgresql://svc@db/x"),
        (
            "sqlite:////var/lib/svcframe/services.sqlite",
            "sqlite:////var/lib/svcframe/services.sqlite",
        ),
        (None, None),
    ],
)
def test_mask_url(url, masked):
    assert mask_url(url) == masked


def test_scrub_removes_the_password_in_any_form():
    url = "mysql+pymysql://root:p%40ss@127.0.0.1/x"
    text = "login for root with p@ss and p%40ss failed (mysql+pymysql://root:p%40ss@h/x)"
    assert (
        scrub(text, url) == "login for root with *** and *** failed (mysql+pymysql://root:***@h/x)"
    )
