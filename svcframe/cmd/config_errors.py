"""One wording, one exit status for a configuration that cannot be used.

``svc-launch`` and ``svc-manage`` both end with ``describe(exc)`` on one
line and ``EXIT_CONFIG`` when a config file is missing, unreadable or
unparsable, or when an option has an invalid value.
"""

import os
import re

from oslo_config import cfg

__all__ = ["EXIT_CONFIG", "check_values", "describe"]

#: The exit status of a configuration error; 2 is also argparse's, for a bad command line.
EXIT_CONFIG = 2

# oslo.config names where a bad value came from with the repr of a LocationInfo.
_BAD_VALUE = re.compile(
    r"^Value for option (?P<name>\S+) from "
    r"(?:LocationInfo\(location=<Locations\.(?P<kind>\w+)[^>]*>, detail=(?P<detail>.*?)\)|\S+) "
    r"is not valid: (?P<reason>.*)$",
    re.DOTALL,
)

# oslo.config's parse errors start with "at PATH:LINE, "; the path is said once.
_PARSE_POSITION = re.compile(r"^at .*:(\d+), ")


def describe(exc):
    """The one-line message for a configuration error ``exc`` (a cfg.Error or ValueError)."""
    if isinstance(exc, cfg.ConfigFilesNotFoundError):
        return f"cannot read config file(s): {_paths(exc.config_files)} (not found)"
    if isinstance(exc, cfg.ConfigFilesPermissionDeniedError):
        return f"cannot read config file(s): {_paths(exc.config_files)} (permission denied)"
    if isinstance(exc, cfg.ConfigDirNotFoundError):
        return f"cannot read config directory: {os.path.abspath(exc.config_dir)} (not found)"
    if isinstance(exc, cfg.ConfigFileParseError):
        reason = _PARSE_POSITION.sub(r"line \1: ", _line(exc.msg))
        return f"cannot parse config file {os.path.abspath(exc.config_file)}: {reason}"
    if isinstance(exc, cfg.RequiredOptError):
        return _line(str(exc))
    match = _BAD_VALUE.match(str(exc))
    if match:
        where = ""
        detail = (match["detail"] or "").strip("'\"")
        if match["kind"] == "user" and detail:
            where = f" in {detail}"
        elif match["kind"] == "environment" and detail:
            where = f" from environment variable {detail}"
        return f"invalid value for option {match['name']}{where}: {_line(match['reason'])}"
    return f"invalid configuration: {_line(str(exc))}"


def check_values(conf):
    """Read every registered option once, so that a bad value fails now, not in a worker.

    Raises the cfg.Error of the first invalid value.
    """
    for name in list(conf):
        value = conf[name]
        if isinstance(value, cfg.ConfigOpts.GroupAttr):
            for option in list(value):
                value[option]  # noqa: B018 - read for the check


def _paths(paths):
    return ", ".join(os.path.abspath(path) for path in paths)


def _line(text):
    lines = [line.strip() for line in str(text).strip().splitlines() if line.strip()]
    return " ".join(lines) or "invalid"
