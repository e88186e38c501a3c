"""Masking passwords in URLs, and in any text that may quote one.

One function for the whole package: ``mask_password(text)`` replaces with
``***``

- the password of every ``scheme://user:password@host`` in ``text``, for
  each host of a multi-host URL (``rabbit://u:p@h1,u:p@h2/vhost``) and
  whatever characters the password holds (``,`` ``/`` ``@`` ``:``, spaces,
  quotes), percent-encoded or not;
- the value of every ``password``, ``passwd``, ``pass`` or ``pwd`` parameter
  (case-insensitive; ``sslpassword`` and the like too), in a query string
  (``postgresql://svc@db/test?password=...``) or in ``key=value`` text such
  as a libpq connection string.

The split follows the URL grammar the way ``urllib.parse`` and SQLAlchemy's
``make_url`` read it, with one difference: a URL written with an unencoded
``@``, ``/`` or ``,`` in its password is still masked whole, because the
userinfo ends at the ``@`` that a valid host follows, not at the first
``@`` or ``/``.  When in doubt, more is masked, never less.

This module imports nothing from svcframe, so that any module can use it.
"""

import re
from urllib.parse import unquote

__all__ = ["MASK", "mask_password", "mask_url", "url_passwords"]

MASK = "***"

# Cheap test first: most log lines hold neither a URL nor a password.
_HINT = re.compile(r"://|pass|pwd", re.IGNORECASE)
_SCHEME_CHAR = re.compile(r"[A-Za-z0-9+.\-]")
# A user name: percent-encoded, so none of the URL's delimiters.
_USER = re.compile(r"[^\s/?#@:,\[\]'\"<>]*")
# One host of the authority, with its optional port.
_HOST_RE = r"(?:\[[0-9A-Za-z:.%]*\]|[^\s/?#@:,\[\]'\"<>]*)(?::\d*)?"
_HOST = re.compile(_HOST_RE)
# The other hosts of a multi-host URL, up to the path (or the end of the URL).
_MORE_HOSTS = re.compile(r"(?:,(?:[^\s/?#@:,]*(?::[^@,]*)?@)?" + _HOST_RE + r")*(?:[/?#]|$)")
# '@' tried per URL before masking up to the last one.
_MAX_CANDIDATES = 16
# Characters after '://' read as the authority (user names, passwords, hosts).
_MAX_AUTHORITY = 2048
# Where a host ends (the next host, the path, the query, the fragment, the text).
_HOST_END = re.compile(r"[,/?#\s'\"<>;)]")
# What follows 'host:' when it is a port rather than 'user:password'.
_PORT = re.compile(r"\d*(?:[/?#,\s'\"<>;)]|$)")
_TOKEN_END = re.compile(r"[\s'\"<>]")
_LINE_END = re.compile(r"\n")
_KEY = r"(?<![\w.-])((?:[\w.-]*(?:password|passwd)|pass|pwd)\s*=\s*)"
_PARAM_IN_URL = re.compile(_KEY + r"([^&#]*)", re.IGNORECASE)
_PARAM_IN_TEXT = re.compile(_KEY + r"(\"[^\"]*\"|'[^']*'|[^&#\s'\"<>]*)", re.IGNORECASE)


def mask_password(text):
    """``text`` (any object; its ``str()``) with every password in it replaced by ``***``.

    For log lines, error messages, tracebacks: URLs end at white space or a
    quote, except that a ``user:password`` whose password holds spaces is
    followed to its ``@host`` on the same line.
    """
    text = str(text)
    if not _HINT.search(text):
        return text
    return _PARAM_IN_TEXT.sub(_mask_value, _mask_userinfo(text, False))


def mask_url(url):
    """``url``, one URL (a configuration value), with its passwords replaced by ``***``.

    Unlike ``mask_password``, the whole string is the URL: spaces and quotes
    are part of it.  None stays None.
    """
    if url is None:
        return None
    url = str(url)
    if not _HINT.search(url):
        return url
    return _PARAM_IN_URL.sub(_mask_value, _mask_userinfo(url, True))


def url_passwords(url):
    """The passwords in ``url`` (one URL), as written and percent-decoded.

    For text a driver may echo them in without the URL around them.
    """
    if url is None:
        return frozenset()
    found = []
    url = str(url)
    _PARAM_IN_URL.sub(lambda m: _mask_value(m, found), _mask_userinfo(url, True, found))
    return frozenset(form for secret in found for form in (secret, unquote(secret)) if form)


def _mask_value(match, found=None):
    if found is not None:
        found.append(match.group(2))
    return match.group(1) + MASK if match.group(2) else match.group(0)


def _mask_userinfo(text, whole, found=None):
    schemes = _url_starts(text)
    if not schemes:
        return text
    out = []
    done = 0
    for n, start in enumerate(schemes):
        if start < done:
            continue  # inside the URL just masked (a '://' in a password)
        limit = schemes[n + 1] - 1 if n + 1 < len(schemes) and not whole else len(text)
        # No real authority is this long; the bound keeps hostile text cheap.
        limit = min(limit, start + _MAX_AUTHORITY)
        out.append(text[done:start])
        done = _mask_authority(text, start, limit, whole, out, found)
    out.append(text[done:])
    return "".join(out)


def _url_starts(text):
    """Where the authority of each ``scheme://`` in ``text`` starts."""
    # Found from '://' backwards: a scheme pattern tried at every letter of
    # a long word would make this quadratic.
    starts = []
    i = text.find("://")
    while i >= 0:
        if i > 0 and _SCHEME_CHAR.match(text, i - 1):
            starts.append(i + 3)
        i = text.find("://", i + 3)
    return starts


def _mask_authority(text, pos, limit, whole, out, found):
    """Append the authority at ``pos`` (masked) to ``out``; return where it ends."""
    first = True
    while True:
        user_end = _USER.match(text, pos, limit).end()
        if user_end < limit and text[user_end] in ":@":
            at = _userinfo_end(text, user_end, limit, whole, first)
            if at is not None:
                if text[user_end] == ":":
                    out.append(text[pos:user_end] + ":" + MASK + "@")
                    if found is not None:
                        found.append(text[user_end + 1 : at])
                else:
                    out.append(text[pos : at + 1])
                pos = at + 1
            elif text[user_end] == ":" and not _PORT.match(text, user_end + 1, limit):
                # 'user:secret' with no host after it: keep the user only.
                end = limit if whole else _end_of(_TOKEN_END, text, user_end, limit)
                out.append(text[pos:user_end] + ":" + MASK)
                if found is not None:
                    found.append(text[user_end + 1 : end])
                return end
        host_end = _HOST.match(text, pos, limit).end()
        out.append(text[pos:host_end])
        pos = host_end
        if pos < limit and text[pos] == ",":
            out.append(",")
            pos += 1
            first = False
            continue
        return pos


def _userinfo_end(text, colon, limit, whole, first):
    """Index of the '@' ending the userinfo that starts before ``colon``, or None.

    The first '@' followed by a valid host (and, in a multi-host URL, by
    valid ``,[user[:password]@]host`` entries up to the path).  In free text
    the search stays in the word, unless nothing there fits and what
    follows ``user:`` is no port: then the password may hold spaces, and the
    search goes on to the end of the line.
    """
    token_end = limit if whole else _end_of(_TOKEN_END, text, colon, limit)
    at = _first_at(text, colon, token_end, limit, whole)
    if at is None and not whole and first and not _PORT.match(text, colon + 1, limit):
        at = _first_at(text, token_end, _end_of(_LINE_END, text, colon, limit), limit, whole)
    return at


def _first_at(text, start, end, limit, whole):
    fallback = None
    at = text.find("@", start, end)
    for _ in range(_MAX_CANDIDATES):
        if at < 0:
            return fallback
        host_end = _end_of(_HOST_END, text, at + 1, limit)
        host = text[at + 1 : host_end]
        if _HOST.fullmatch(host) and (host or host_end < limit):
            url_end = limit if whole else _end_of(_TOKEN_END, text, host_end, limit)
            if _MORE_HOSTS.match(text, host_end, url_end):
                return at
            if fallback is None:
                fallback = at
        at = text.find("@", at + 1, end)
    # Too many to try (no real URL has that many '@'): mask up to the last one.
    last = text.rfind("@", start, end)
    return last if last >= 0 else fallback


def _end_of(pattern, text, pos, limit):
    match = pattern.search(text, pos, limit)
    return match.start() if match else limit
