"""Plain-text tables for command output, aligned with the standard library only."""

__all__ = ["format_table"]


def format_table(headers, rows):
    """A boxed table; every cell is str()-ed, None shows as an empty cell."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    border = "+" + "+".join("-" * (width + 2) for width in widths) + "+"
    lines = [border, _line(headers, widths), border]
    lines.extend(_line(row, widths) for row in cells)
    lines.append(border)
    return "\n".join(lines)


def _cell(value):
    # A line break inside a cell would break the alignment of every column.
    return "" if value is None else " ".join(str(value).split())


def _line(cells, widths):
    padded = (cell.ljust(width) for cell, width in zip(cells, widths, strict=True))
    return "| " + " | ".join(padded) + " |"
