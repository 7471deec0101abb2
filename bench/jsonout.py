"""`--json FILE` for the bench scripts: write the results to FILE, or to stdout with `-`."""
from __future__ import annotations

import json
from pathlib import Path


def emit_json(value: object, target: str | None) -> None:
    if not target:
        return
    text = json.dumps(value, indent=2, ensure_ascii=False)
    if target == "-":
        print(text)
    else:
        Path(target).write_text(text + "\n", encoding="utf-8")
