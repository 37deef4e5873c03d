"""bench/benchdocs.write_section: each bench rewrites only its own section of docs/benchmarks.md."""

from bench.benchdocs import publish, write_section


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


def test_publish_prints_the_report_and_writes_only_when_asked(tmp_path, capsys):
    docs = tmp_path / "benchmarks.md"
    publish("## synth", "## synth\n\nfigures\n", write=False, docs=docs)
    assert capsys.readouterr().out == "## synth\n\nfigures\n\n" and not docs.exists()

    publish("## synth", "## synth\n\nfigures\n", write=True, docs=docs)
    out, err = capsys.readouterr()
    assert (
        out == "## synth\n\nfigures\n\n"
        and err == f"wrote the synth section of {tmp_path.name}/benchmarks.md\n"
    )
    assert docs.read_text() == "# Benchmarks\n\n## synth\n\nfigures\n"
