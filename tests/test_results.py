"""Key results: recorded, glued, written atomically and compared with their references."""

from grokkit.results import KeyResults, compare


def test_key_results_round_trip_and_drift(tmp_path):
    results = KeyResults("demo", tmp_path)
    results.glue("step", 120)
    results.glue("acc", 99.5)
    results.save()
    path = results.path
    assert path.read_text().count(":") == 2
    reference = {"step": {"value": 100, "rel": 0.25}, "acc": {"value": 99.0, "abs": 0.2}}
    drifts = compare(results.values, reference)
    assert [d.key for d in drifts] == ["acc"]
    assert "reference 99.0, new 99.5" in str(drifts[0])
    assert [d.key for d in compare({"step": 120, "extra": 1}, reference)] == ["acc", "extra"]


def test_glue_many_records_each_value_under_its_name(tmp_path):
    results = KeyResults("demo", tmp_path)
    results.glue_many(modulus=31, share=0.5)
    assert results.values == {"modulus": 31, "share": 0.5}
    results.save()
    assert results.path.read_text().count('"modulus": 31') == 1


def test_values_are_glued_only_in_the_book_build(tmp_path, monkeypatch, capsys):
    """In Colab or Jupyter a glued value would only add output to the cell; the build (GROKKIT_BOOK_BUILD=1) glues."""
    glued = []
    monkeypatch.setattr("myst_nb.glue", lambda name, value, display: glued.append((name, value, display)))
    monkeypatch.delenv("GROKKIT_BOOK_BUILD", raising=False)
    KeyResults("demo", tmp_path).glue("step", 120)
    assert glued == [] and capsys.readouterr().out == ""
    monkeypatch.setenv("GROKKIT_BOOK_BUILD", "1")
    KeyResults("demo", tmp_path).glue("step", 120)
    assert glued == [("step", 120, False)]
