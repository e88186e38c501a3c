from svcframe.cmd.table import format_table


def test_columns_are_aligned_and_none_is_empty():
    table = format_table(("Host", "State"), [("node-long-name", "up"), ("n", None)])
    assert table.splitlines() == [
        "+----------------+-------+",
        "| Host           | State |",
        "+----------------+-------+",
        "| node-long-name | up    |",
        "| n              |       |",
        "+----------------+-------+",
    ]


def test_line_breaks_in_cells_do_not_break_rows():
    table = format_table(("Reason",), [("two\nlines",)])
    assert "| two lines |" in table.splitlines()


def test_empty_table_keeps_its_header():
    assert format_table(("A", "B"), []).splitlines()[1] == "| A | B |"
