"""A report as a list of blocks, rendered to Markdown (PNGs beside it) and to one
self-contained HTML file (PNGs embedded as data URIs, so it can be mailed or archived alone)."""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Document:
    """Blocks in order: ``("h", level, text)``, ``("p", text)``, ``("table", header, rows)``,
    ``("img", path, alt)``, ``("code", text)``."""

    title: str
    blocks: list[tuple] = field(default_factory=list)

    def heading(self, text: str, level: int = 2) -> None:
        self.blocks.append(("h", level, text))

    def para(self, text: str) -> None:
        self.blocks.append(("p", text))

    def table(self, header: list[str], rows: list[list[object]]) -> None:
        self.blocks.append(("table", header, [[_cell(v) for v in r] for r in rows]))

    def image(self, path: Path, alt: str) -> None:
        self.blocks.append(("img", Path(path), alt))

    def code(self, text: str) -> None:
        self.blocks.append(("code", text))

    def write(self, folder: Path, stem: str) -> tuple[Path, Path]:
        """Write ``{stem}.md`` (images linked) and ``{stem}.html`` (images embedded) into
        ``folder``, each atomically; return both paths."""
        from lightcnn.io import atomic_write

        md, page = Path(folder) / f"{stem}.md", Path(folder) / f"{stem}.html"
        with atomic_write(md) as f:
            f.write(self.markdown(Path(folder)))
        with atomic_write(page) as f:
            f.write(self.html())
        return md, page

    def markdown(self, base: Path) -> str:
        """Markdown with images linked relative to ``base`` (the report's folder)."""
        out = [f"# {self.title}", ""]
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                out += ["#" * block[1] + " " + block[2], ""]
            elif kind == "p":
                out += [block[1], ""]
            elif kind == "table":
                header, rows = block[1], block[2]
                out.append("| " + " | ".join(header) + " |")
                out.append("|" + "---|" * len(header))
                out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
                out.append("")
            elif kind == "img":
                out += [f"![{block[2]}]({_relative(block[1], base)})", ""]
            elif kind == "code":
                out += ["```yaml", block[1].rstrip("\n"), "```", ""]
        return "\n".join(out)

    def html(self) -> str:
        """One HTML page with every image embedded."""
        e = html.escape
        out = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{e(self.title)}</title>",
            "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
            "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}"
            "td:first-child,th:first-child{text-align:left}img{max-width:100%;border:1px solid #eee}"
            "pre{background:#f6f6f6;padding:1em;overflow:auto}</style>",
            f"</head><body><h1>{e(self.title)}</h1>",
        ]
        for block in self.blocks:
            kind = block[0]
            if kind == "h":
                out.append(f"<h{block[1]}>{e(block[2])}</h{block[1]}>")
            elif kind == "p":
                out.append(f"<p>{e(block[1])}</p>")
            elif kind == "table":
                out.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in block[1]) + "</tr>")
                out += ["<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in block[2]]
                out.append("</table>")
            elif kind == "img":
                data = base64.b64encode(Path(block[1]).read_bytes()).decode("ascii")
                out.append(f'<p><img alt="{e(block[2])}" src="data:image/png;base64,{data}"></p>')
            elif kind == "code":
                out.append(f"<details><summary>show</summary><pre>{e(block[1])}</pre></details>")
        out.append("</body></html>")
        return "\n".join(out)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _relative(path: Path, base: Path) -> str:
    try:
        return Path(path).resolve().relative_to(Path(base).resolve()).as_posix()
    except ValueError:
        return Path(path).resolve().as_posix()
