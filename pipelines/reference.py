"""`make docs`: writes docs/options.md from the option declarations (pipelines/configs.py)."""

from __future__ import annotations

from pipelines import configs

REFERENCE = configs.PROJECT_ROOT / "docs" / "options.md"


def main() -> None:
    REFERENCE.write_text(configs.reference_markdown())
    print(f"Wrote {REFERENCE.relative_to(configs.PROJECT_ROOT)} ({len(configs.OPTIONS)} options)")


if __name__ == "__main__":
    main()
