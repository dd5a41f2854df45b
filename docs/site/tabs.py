"""docs/generate.py's tables as content tabs, for the site (docs/site/hooks.py applies it to every
page). A table ``| implementation | code | file |`` has one row per (implementation, file) with that
file's tagged lines; on the site it becomes one tab per implementation (pymdownx.tabbed), holding a
code block per row titled with its file. The lines are the table's own, unescaped, so a tab shows
exactly what the table (and the suite) has."""

import html
import re

HEAD = "| implementation | code | file |"
ROW = re.compile(r"^\| (?P<column>[^|]+?) \| (?P<code>.*) \| `(?P<path>[^`]+)` \|$")
CODE = re.compile(r"<code>(.*?)</code>")


def tabs(markdown: str) -> str:
    lines, out, i = markdown.split("\n"), [], 0
    while i < len(lines):
        if lines[i].strip() != HEAD:
            out.append(lines[i])
            i += 1
            continue
        i += 2  # the head and |---|---|---|
        columns: dict[str, list[tuple[str, list[str]]]] = {}
        while i < len(lines) and lines[i].startswith("|"):
            row = ROW.match(lines[i])
            if row is None:
                raise ValueError(f"not an implementation row: {lines[i]!r}")
            code = [html.unescape(c) for c in CODE.findall(row["code"])]
            columns.setdefault(row["column"], []).append((row["path"], code))
            i += 1
        for column, blocks in columns.items():  # rows of one implementation share its tab, in order
            out += [f'=== "{column}"', ""]
            for path, code in blocks:
                out += [f'    ```python title="{path}"', *(f"    {c}" for c in code), "    ```", ""]
    return "\n".join(out)
