"""Keeping passwords in registry URLs out of logs and error messages."""

import re
import urllib.parse

__all__ = ["mask_url", "scrub"]

MASK = "***"

# user:password@ in any URL-looking text, including the ones drivers put in
# their own error messages.
_USERINFO_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][\w+.-]*://)(?P<user>[^:/@\s]*):[^@/\s]*@")


def mask_url(url):
    """``url`` with its password replaced by ***; None stays None."""
    if url is None:
        return None
    return _USERINFO_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", str(url))


def scrub(text, url):
    """``text`` with the password of ``url`` and any URL password masked."""
    text = mask_url(str(text))
    password = urllib.parse.urlsplit(str(url)).password if url else None
    if password:
        # Drivers may echo the password percent-encoded, as in the URL, or decoded.
        for form in {password, urllib.parse.unquote(password)}:
            text = text.replace(form, MASK)
    return text
