"""Keeping passwords in registry URLs out of logs and error messages."""

from svcframe.masking import MASK, mask_password, mask_url, url_passwords

__all__ = ["mask_url", "scrub"]


def scrub(text, url):
    """``text`` with the password of ``url`` and any URL password masked."""
    text = mask_password(str(text))
    # Drivers may echo a password percent-encoded, as in the URL, or decoded.
    for secret in sorted(url_passwords(url), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
