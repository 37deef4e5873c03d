"""bench/benchdocs.write_section: each bench rewrites only its own section of docs/benchmarks.md."""

from bench.benchdocs import write_section


def test_replaces_only_its_own_section_and_appends_new_ones(tmp_path):
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\n## gateway\n\nold gateway\n\n## synth\n\nsynth figures\n")

    write_section("## gateway", "## gateway\n\nnew gateway\n", docs)
    write_section("## runtime", "## runtime\n\nruntime figures\n", docs)

    assert docs.read_text() == (
        "# Benchmarks\n\n## gateway\n\nnew gateway\n\n## synth\n\nsynth figures\n\n## runtime\n\nruntime figures\n"
    )


def test_creates_the_file_when_missing(tmp_path):
    docs = tmp_path / "benchmarks.md"
    write_section("## synth", "## synth\n\nfigures\n", docs)
    assert docs.read_text() == "# Benchmarks\n\n## synth\n\nfigures\n"
