"""The drawability audit: prompts per clause, the Wilson interval, cached renders, the table and its comparison."""

import json

import pytest
from typer.testing import CliRunner

from promptopt import grammar
from promptopt.cli import app
from promptopt.core.errors import InputError
from promptopt.generators.base import GeneratorConfig
from promptopt.judge.consistency import Clause, clauses
from promptopt.loop.audit import audit, compare, read_audit, single_clause_prompts, wilson, write_audit

runner = CliRunner()
pytestmark = pytest.mark.usefixtures("one_torch_thread")
TINY = GeneratorConfig(model="tiny-random", height=32, width=32, device="cpu", batch_size=4)


def test_wilson_interval_by_hand():
    low, high = wilson(0, 24)
    assert low == 0.0 and high == pytest.approx(0.1380, abs=1e-4)
    low, high = wilson(12, 24)
    assert (low, high) == pytest.approx((0.3143, 0.6857), abs=1e-4)
    assert wilson(24, 24)[1] == pytest.approx(1.0) and wilson(0, 0) == (0.0, 1.0)


def test_every_single_clause_prompt_states_exactly_its_clause():
    prompts = single_clause_prompts()
    assert len(prompts) > 50
    for clause, prompt in prompts.items():
        assert clauses(grammar.parse(prompt)) == (clause,), prompt
    rare = single_clause_prompts(["injection needle", "colors=brown", "polyp_count=3+", "text"])
    assert list(rare) == [Clause("injection needle"), Clause("colors=brown"), Clause("polyp_count=3+"), Clause("text")]
    assert all(clauses(grammar.parse(p)) == (c,) for c, p in rare.items())
    with pytest.raises(InputError, match="banana: not an attribute"):
        single_clause_prompts(["banana"])
    with pytest.raises(InputError, match="'any of' output"):
        single_clause_prompts(["instrument"])


class Counted:
    """A real generator that counts the images it renders."""

    def __init__(self, generator):
        self.generator, self.rendered = generator, 0
        self.identity = generator.identity

    def render(self, prompts, seeds, **kwargs):
        self.rendered += len(prompts)
        return self.generator.render(prompts, seeds, **kwargs)


@pytest.fixture(scope="module")
def generator():
    from promptopt.study.factory import generator_for

    return generator_for(TINY)


def test_audit_renders_only_what_the_cache_lacks(generator, tiny_judge_file, tmp_path):
    from promptopt.scorers.judge import load_judge

    judge = load_judge(tiny_judge_file)
    prompts = single_clause_prompts(["tube", "pylorus"])
    counted = Counted(generator)
    rows = audit(counted, judge, prompts, images=3, renders=tmp_path / "renders", seed_start=5)
    assert counted.rendered == 6 and [r.clause for r in rows] == ["tube", "pylorus"]
    assert all(r.n == 3 and 0 <= r.hits <= 3 and r.ci_low <= r.hit_rate <= r.ci_high for r in rows)
    again = audit(counted, judge, prompts, images=5, renders=tmp_path / "renders", seed_start=5)
    assert counted.rendered == 6 + 4  # two more seeds a clause; the first three come from the cache
    assert [r.hits for r in again] >= [0, 0] and again[0].n == 5
    assert len(list((tmp_path / "renders").rglob("*.png"))) == 10  # one folder a prompt, one file a seed
    write_audit(tmp_path / "out", rows, {"images": 3})
    loaded = read_audit(tmp_path / "out")
    assert loaded["rows"] == rows and loaded["images"] == 3
    assert (tmp_path / "out" / "audit.csv").read_text().splitlines()[0].startswith("clause,prompt,n,hits")


def test_an_unchecked_clause_is_never_drawn_or_not(generator, tiny_judge_file, tmp_path):
    from promptopt.scorers.judge import load_judge

    judge = load_judge(tiny_judge_file)
    judge.uncertifiable = ("pylorus",)
    rows = audit(generator, judge, single_clause_prompts(["pylorus"]), images=2, renders=tmp_path)
    assert not rows[0].checkable and rows[0].drawn is None


def test_compare_says_when_the_intervals_are_apart():
    from promptopt.loop.audit import AuditRow

    def row(clause, hits, n=24):
        low, high = wilson(hits, n)
        return AuditRow(clause, "p", n, hits, hits / n, low, high, 0.5, True, "")

    changes = compare([row("a", 0), row("b", 10), row("c", 5)], [row("a", 20), row("b", 12)])
    assert [c["clause"] for c in changes] == ["a", "b"]
    assert changes[0]["apart"] and not changes[1]["apart"]
    assert changes[0]["change"] == pytest.approx(20 / 24)


def test_the_audit_command(tiny_judge_file, tmp_path):
    args = ["audit", "--model", "tiny-random", "--device", "cpu", "--images", "2", "--clauses", "tube",
            "--judge", str(tiny_judge_file)]  # fmt: skip
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "a"), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [r["clause"] for r in data["rows"]] == ["tube"] and data["images"] == 2
    assert data["generator"]["model"] == "tiny-random"
    printed = runner.invoke(app, [*args, "--out", str(tmp_path / "a")])
    assert printed.exit_code == 0 and "tube" in printed.output and "audit.json" in printed.output
    compared = runner.invoke(app, ["audit", "--compare", str(tmp_path / "a"), str(tmp_path / "a" / "audit.json")])
    assert compared.exit_code == 0 and "+0.00  tube" in compared.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["audit"], "--out is missing"),
        (["audit", "--compare", "nope", "nope2"], "nope/audit.json does not exist"),
        (["audit", "--out", "x", "--clauses", "banana"], "banana: not an attribute"),
        (["audit", "--out", "x", "--images", "0"], "--images"),
    ],
)
def test_audit_bad_input_is_one_line(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nope").mkdir()
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and message in result.output
    assert len(result.output.strip().splitlines()) == 1 or "Usage" in result.output
