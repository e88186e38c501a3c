"""Keeping passwords in registry URLs out of logs and error messages."""

import urllib.parse

from svcframe.messaging.transport import MASK, mask_password

__all__ = ["mask_url", "scrub"]


def mask_url(url):
    """``url`` with its password replaced by ***; None stays None."""
    if url is None:
        return None
    # The messaging layer's masking: it also copes with a password holding '/'.
    return mask_password(str(url))


def scrub(text, url):
    """``text`` with the password of ``url`` and any URL password masked."""
    text = mask_url(str(text))
    password = urllib.parse.urlsplit(str(url)).password if url else None
    if password:
        # Drivers may echo the password percent-encoded, as in the URL, or decoded.
        for form in {password, urllib.parse.unquote(password)}:
            text = text.replace(form, MASK)
    return text
