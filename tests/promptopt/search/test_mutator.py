import optuna
import pytest
from optuna.trial import FixedTrial

from promptopt import grammar
from promptopt.grammar.opg_categories import CATEGORIES
from promptopt.search.mutator import KEEP, PromptMutator, seed_prompts
from promptopt.study.config import MutatorConfig


def _params(mutator: PromptMutator, **changes):
    params = {
        "seed_prompt": mutator.seeds[0],
        **{key: KEEP for key, _ in mutator.category.details},
        "opener": "Generate an image",
        "synonym": mutator.category.synonyms[0],
        "descriptor": "",
        "negative_prompt": "",
        "guidance_scale": 5.0,
        "steps": 10,
    }
    params.update(changes)
    return params


@pytest.fixture(scope="module")
def polyp():
    return PromptMutator(CATEGORIES["polyp"], MutatorConfig(seed_prompts=6))


def test_seed_prompts_are_the_most_frequent_real_prompts_of_the_category():
    seeds = seed_prompts("polyp", 3)
    assert seeds[0] == "Generate an image containing a polyp."
    counts = dict(grammar.challenge_prompts())
    assert [counts[s] for s in seeds] == sorted((counts[s] for s in seeds), reverse=True)
    for category in ("landmark", "instrument"):
        assert all(category in grammar.categories(grammar.parse(p)) for p in seed_prompts(category, 8))


def test_all_keep_returns_the_real_prompt_verbatim(polyp):
    cand = polyp.propose(FixedTrial(_params(polyp)))
    assert cand.prompt == "Generate an image containing a polyp."
    assert (cand.negative_prompt, cand.guidance_scale, cand.steps) == ("", 5.0, 10)


def test_detail_mutation_renders_through_the_grammar(polyp):
    cand = polyp.propose(FixedTrial(_params(polyp, polyp_types="ip", abnormality_locations="upper-left")))
    attrs = grammar.parse(cand.prompt)
    assert attrs["polyp_types"] == ["ip"]
    assert attrs["abnormality_locations"] == ["upper-left"]
    assert attrs["findings"] == ["polyp"]


def test_wording_mutations(polyp):
    cand = polyp.propose(
        FixedTrial(
            _params(
                polyp,
                opener="Generate an endoscopic image",
                synonym="colorectal polyp",
                descriptor="close-up endoscopic view",
                negative_prompt="blurry, low quality, distorted",
            )
        )
    )
    assert cand.prompt == "Generate an endoscopic image containing a colorectal polyp, close-up endoscopic view."
    assert cand.negative_prompt == "blurry, low quality, distorted"


def test_synonym_keeps_the_article_right(polyp):
    cand = polyp.propose(FixedTrial(_params(polyp, synonym="adenomatous polyp")))
    assert cand.prompt == "Generate an image containing an adenomatous polyp."


def test_synonym_leaves_plural_and_instrument_words_alone():
    mutator = PromptMutator(CATEGORIES["polyp"], MutatorConfig(seed_prompts=40))
    plural = next(s for s in mutator.seeds if "polyps" in s)
    cand = mutator.propose(FixedTrial(_params(mutator, seed_prompt=plural, synonym="polypoid lesion")))
    assert cand.prompt == plural


def test_space_is_fixed_so_samplers_replay_it(polyp):
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    proposals = []
    for _ in range(5):
        trial = study.ask()
        proposals.append(polyp.propose(trial))
        study.tell(trial, 0.0)
    for trial, cand in zip(study.trials, proposals):
        assert polyp.propose(FixedTrial(trial.params)) == cand
    distributions = {name for t in study.trials for name in t.distributions}
    assert distributions == set(_params(polyp))


@pytest.mark.parametrize("name", ["landmark", "instrument"])
def test_every_category_proposes_parseable_challenge_prompts(name):
    mutator = PromptMutator(CATEGORIES[name], MutatorConfig(seed_prompts=5))
    key, pool = mutator.category.details[0]
    cand = mutator.propose(FixedTrial(_params(mutator, **{key: pool[1]})))
    assert name in grammar.categories(grammar.parse(cand.prompt))
    assert pool[1] in grammar.parse(cand.prompt)[key]


@pytest.mark.parametrize("name", sorted(CATEGORIES))
def test_every_wording_parses_to_the_attributes_of_the_plain_wording(name):
    mutator = PromptMutator(CATEGORIES[name], MutatorConfig(seed_prompts=12))
    plain = {"opener": grammar.CHALLENGE_OPENER, "synonym": mutator.category.head, "descriptor": ""}
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(200):
        trial = study.ask()
        attrs = grammar.parse(mutator.propose(trial).prompt)
        study.tell(trial, 0.0)
        assert attrs == grammar.parse(mutator.propose(FixedTrial({**trial.params, **plain})).prompt)
        assert name in grammar.categories(attrs)


def test_synonym_replaces_the_challenge_double_article_with_one():
    mutator = PromptMutator(CATEGORIES["landmark"], MutatorConfig(seed_prompts=12))
    seed = "Generate an image with an an anatomical landmark located in the center and upper-center."
    cand = mutator.propose(FixedTrial(_params(mutator, seed_prompt=seed, synonym="anatomical structure")))
    assert cand.prompt == "Generate an image with an anatomical structure located in the center and upper-center."


def test_baseline_is_the_plain_seed_prompt_on_the_search_grid():
    wide = PromptMutator(CATEGORIES["polyp"], MutatorConfig(seed_prompts=6, guidance_min=2.0, guidance_max=10.0))
    plain = wide.baseline()
    assert plain.prompt == "Generate an image containing a polyp." and plain.negative_prompt == ""
    assert (plain.guidance_scale, plain.steps) == (7.5, 20)
    narrow = PromptMutator(CATEGORIES["instrument"], MutatorConfig(guidance_min=2.0, guidance_max=4.0, steps=(3, 5)))
    assert (narrow.baseline().guidance_scale, narrow.baseline().steps) == (4.0, 5)  # 7.5 clipped into the range
    assert narrow.baseline().prompt == seed_prompts("instrument", 1)[0]
    off_grid = PromptMutator(CATEGORIES["polyp"], MutatorConfig(guidance_min=3.0, guidance_max=9.0, guidance_step=2.0))
    assert off_grid.baseline().guidance_scale == 7.0
    study = optuna.create_study()
    study.enqueue_trial(off_grid.baseline_params())
    assert off_grid.propose(study.ask()) == off_grid.baseline()  # a value Optuna's distributions accept
