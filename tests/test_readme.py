"""The README's first commands are what a newcomer types: CI must run exactly the test command."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _fenced_commands(text: str) -> list[str]:
    lines, out, inside = text.splitlines(), [], False
    for line in lines:
        if line.startswith("```"):
            inside = not inside
            continue
        if inside and line.strip() and not line.lstrip().startswith("#"):
            out.append(line.strip())
    return out


def test_ci_runs_the_readme_test_command():
    lines = (ROOT / ".ci/run").read_text().splitlines()
    ci_cmd = [ln for ln in lines if ln and not ln.startswith(("#", "set ", "cd "))]
    assert len(ci_cmd) == 1, ci_cmd
    readme = (ROOT / "README.md").read_text()
    head = readme[: readme.index("\n## ", readme.index("```"))]  # the opening section only
    assert ci_cmd[0] in _fenced_commands(head)


def test_layout_packages_import():
    import codec  # noqa: F401
    import evals  # noqa: F401
    import flowtts  # noqa: F401
    import serve  # noqa: F401
