"""A port of Go's ``text/tabwriter`` (space padding, no flags), so tables match istioctl byte for byte.

Cells are tab-terminated; the text after a line's last tab is not part of any column and is never padded.
Column widths are computed per *block* of consecutive lines that have a cell in that column, exactly as
Go does (``format`` below follows ``text/tabwriter.Writer.format``).
"""

from __future__ import annotations


def tabwrite(text: str, minwidth: int = 0, tabwidth: int = 8, padding: int = 1) -> str:
    """Align tab-separated ``text`` like ``tabwriter.NewWriter(w, minwidth, tabwidth, padding, ' ', 0)``."""
    del tabwidth  # only matters when the pad character is a tab
    raw_lines = text.split("\n")
    lines = [ln.split("\t") for ln in raw_lines]
    out: list[str] = []
    widths: list[int] = []

    def write_lines(line0: int, line1: int) -> None:
        for i in range(line0, line1):
            cells = lines[i]
            parts = []
            for j, cell in enumerate(cells):
                if j < len(widths) and j < len(cells) - 1:
                    parts.append(cell + " " * max(widths[j] - len(cell), 0))
                else:
                    parts.append(cell)
            out.append("".join(parts))

    def fmt(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(line0, this)
            line0 = this
            width = minwidth
            while this < line1:
                cells = lines[this]
                if column >= len(cells) - 1:
                    break
                w = len(cells[column]) + padding
                if w > width:
                    width = w
                this += 1
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write_lines(line0, line1)

    fmt(0, len(lines))
    return "\n".join(out)
