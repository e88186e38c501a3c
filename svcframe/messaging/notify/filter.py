"""NotificationFilter: which notifications an endpoint receives, by regular expressions."""

import re

__all__ = ["NotificationFilter"]


class NotificationFilter:
    r"""Matches notifications on context, publisher_id, event_type, metadata and payload.

    As oslo.messaging's: each given field (or dict key) must be a string the
    regular expression matches from its start::

        filter_rule = NotificationFilter(
            publisher_id="^compute.*",
            event_type=r"^compute\.instance\..*",
            payload={"state": "^active$"},
        )

    An endpoint with a ``filter_rule`` attribute only receives what it matches.
    """

    def __init__(
        self, context=None, publisher_id=None, event_type=None, metadata=None, payload=None
    ):
        self._publisher_id = re.compile(publisher_id) if publisher_id is not None else None
        self._event_type = re.compile(event_type) if event_type is not None else None
        self._context = self._compile_dict(context)
        self._metadata = self._compile_dict(metadata)
        self._payload = self._compile_dict(payload)

    @staticmethod
    def _compile_dict(patterns):
        return {key: re.compile(value) for key, value in (patterns or {}).items()}

    @staticmethod
    def _mismatch_one(data, regex):
        if regex is None:
            return False
        return not isinstance(data, str) or not regex.match(data)

    @classmethod
    def _mismatch(cls, data, regex):
        if isinstance(regex, dict):
            for key, pattern in regex.items():
                if not isinstance(data, dict) or key not in data:
                    return True
                if cls._mismatch_one(data[key], pattern):
                    return True
            return False
        return cls._mismatch_one(data, regex)

    def match(self, context, publisher_id, event_type, metadata, payload):
        return not (
            self._mismatch(publisher_id, self._publisher_id)
            or self._mismatch(event_type, self._event_type)
            or self._mismatch(context, self._context)
            or self._mismatch(metadata, self._metadata)
            or self._mismatch(payload, self._payload)
        )
