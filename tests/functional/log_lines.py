"""Assertions on the sequence of lifecycle log lines a launcher writes."""

__all__ = ["assert_sequence", "line_count"]


def line_count(expected):
    """How many lines ``expected`` stands for (a set counts its members)."""
    return sum(len(item) if isinstance(item, (set, frozenset)) else 1 for item in expected)


def assert_sequence(lines, expected, prefix=False):
    """``lines`` matches ``expected``, whose set items may come in any order.

    With ``prefix``, ``lines`` may go on after ``expected``.
    """
    position = 0
    for item in expected:
        group = sorted(item) if isinstance(item, (set, frozenset)) else [item]
        chunk = lines[position : position + len(group)]
        assert sorted(chunk) == group, (
            f"at line {position}: expected {group}, got {chunk}\nall lines:\n" + "\n".join(lines)
        )
        position += len(group)
    assert prefix or lines[position:] == [], "unexpected trailing lines:\n" + "\n".join(
        lines[position:]
    )
