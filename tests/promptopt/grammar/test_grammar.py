from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptopt.core.errors import InputError
from promptopt.grammar import (
    CHALLENGE_OPENER,
    DESCRIPTORS,
    LIST_VALUES,
    OPENERS,
    PROCEDURES,
    SEARCH_DESCRIPTORS,
    SYNONYMS,
    PromptParseError,
    aggregate,
    categories,
    challenge_prompts,
    holds,
    parse,
    phrase,
    validate,
)
from promptopt.grammar.vocabulary import COUNT_KEYS, FLAG_KEYS

# (prompt, attributes, categories): real development prompts, one or more per family.
CHALLENGE_CASES: list[tuple[str, dict[str, Any], list[str]]] = [
    ("Generate an image containing text.", {"text": True}, []),
    ("Generate an image not containing text.", {"text": False}, []),
    ("Generate an image containing a green/black box artefact.", {"box_artefact": True}, []),
    ("Generate an image not containing a green/black box artefact.", {"box_artefact": False}, []),
    ("Generate an image from a colonoscopy procedure.", {"procedure": "colonoscopy"}, []),
    ("Generate an image from a gastroscopy procedure.", {"procedure": "gastroscopy"}, []),
    ("Generate an image with no instruments.", {"instrument_count": 0}, []),
    ("Generate an image with no polyps.", {"polyp_count": 0}, []),
    ("Generate an image with no findings.", {"finding_count": 0}, []),
    ("Generate an image with 16 findings.", {"finding_count": 16}, []),
    ("Generate an image with 1 polyp.", {"polyp_count": 1}, ["polyp"]),
    ("Generate an image with 2 instruments.", {"instrument_count": 2}, ["instrument"]),
    ("Generate a polyp of type paris is.", {"polyp_types": ["is"]}, ["polyp"]),
    ("Generate polyps of type paris is and paris iia.", {"polyp_types": ["iia", "is"]}, ["polyp"]),
    ("Generate an image with a polyp of size >20mm.", {"polyp_sizes": [">20mm"]}, ["polyp"]),
    ("Generate an image with polyps of size < 5mm and 5-10mm.", {"polyp_sizes": ["5-10mm", "<5mm"]}, ["polyp"]),
    (
        "Generate an image with polyps of size < 5mm, 5-10mm and 11-20mm.",
        {"polyp_sizes": ["11-20mm", "5-10mm", "<5mm"]},
        ["polyp"],
    ),
    ("Generate an image with an abnormality with the color pink.", {"colors": ["pink"]}, []),
    ("Generate an image with an abnormality with the color pink/red.", {"colors": ["pink", "red"]}, []),
    (
        "Generate an image with an abnormality with the colors white, red, yellow and pink.",
        {"colors": ["pink", "red", "white", "yellow"]},
        [],
    ),
    ("Generate an image with Pink findings.", {"colors": ["pink"]}, []),
    (
        "Generate an image with an an abnormality located in the center, lower-right and center-right.",
        {"abnormality_locations": ["center", "center-right", "lower-right"]},
        [],
    ),
    (
        "Generate an image with an an instrument located in the lower-right and lower-center.",
        {"instrument_locations": ["lower-center", "lower-right"]},
        ["instrument"],
    ),
    (
        "Generate an image with an an anatomical landmark located in the center and lower-rigth.",
        {"landmark_locations": ["center", "lower-right"]},
        ["landmark"],
    ),
    ("Generate an image containing a polyp.", {"findings": ["polyp"]}, ["polyp"]),
    ("Generate an image containing oesophagitis.", {"findings": ["oesophagitis"]}, []),
    ("Generate an image containing barretts.", {"findings": ["barretts"]}, []),
    (
        "Generate an image containing a polypandulcerative colitis.",
        {"findings": ["polyp", "ulcerative colitis"]},
        ["polyp"],
    ),
    ("Generate an image containing the z-line.", {"landmarks": ["z-line"]}, ["landmark"]),
    ("Generate an image containing the cecum.", {"landmarks": ["cecum"]}, ["landmark"]),
    ("Generate an image containing the pylorus.", {"landmarks": ["pylorus"]}, ["landmark"]),
    ("Generate an image containing the ileum.", {"landmarks": ["ileum"]}, ["landmark"]),
    ("Generate an image containing injection needle.", {"instruments": ["injection needle"]}, ["instrument"]),
    ("Generate an image containing polyp snare.", {"instruments": ["polyp snare"]}, ["instrument"]),
    ("Generate an image containing polyp snareandtube.", {"instruments": ["polyp snare", "tube"]}, ["instrument"]),
    (
        "Generate an image containing biopsy forcepsandmetal clip.",
        {"instruments": ["biopsy forceps", "metal clip"]},
        ["instrument"],
    ),
]


@pytest.mark.parametrize(("prompt", "attributes", "cats"), CHALLENGE_CASES)
def test_challenge_prompts_parse_to_their_attributes(prompt: str, attributes: dict[str, Any], cats: list[str]) -> None:
    assert parse(prompt) == attributes
    assert categories(parse(prompt)) == cats


def test_every_bundled_prompt_parses_to_a_constraint() -> None:
    prompts = challenge_prompts()
    assert len(prompts) == 372
    assert prompts[0] == ("Generate an image containing text.", 1589)
    assert all(parse(prompt) for prompt, _ in prompts)


@pytest.mark.parametrize(
    ("prompt", "attributes"),
    [
        (
            "Generate an image from a colonoscopy procedure with 1 polyp of type paris isp located in the "
            "top left, containing text and the z-line.",
            {
                "procedure": "colonoscopy",
                "landmarks": ["z-line"],
                "polyp_types": ["isp"],
                "abnormality_locations": ["upper-left"],
                "polyp_count": 1,
                "text": True,
            },
        ),
        (
            "Generate an image containing a polyp and biopsy forceps, with 2 instruments, "
            "without text or a green/black box artefact.",
            {
                "findings": ["polyp"],
                "instruments": ["biopsy forceps"],
                "instrument_count": 2,
                "text": False,
                "box_artefact": False,
            },
        ),
        (
            "Generate an image with pink and red polyps of size 5 - 10 mm in the centre.",
            {"polyp_sizes": ["5-10mm"], "colors": ["pink", "red"], "abnormality_locations": ["center"]},
        ),
        ("Generate an image of the caecum with no polyps.", {"landmarks": ["cecum"], "polyp_count": 0}),
        (
            "Close-up endoscopic view, white-light colonoscopy: Generate an image containing a polyp, high-resolution.",
            {"findings": ["polyp"]},
        ),
        (
            "Generate a high-resolution image with an an instrument located in the center.",
            {"instrument_locations": ["center"]},
        ),
        ("Generate an image.", {}),
    ],
)
def test_new_combinations_and_descriptors_parse(prompt: str, attributes: dict[str, Any]) -> None:
    assert parse(prompt) == attributes


@pytest.mark.parametrize(
    ("prompt", "fragment"),
    [
        ("Generate an image with a unicorn.", "cannot read 'unicorn.'"),
        ("Generate an image with a polyp of size 3-4mm.", "expected a polyp size"),
        ("Generate an image with a teal polyp.", "'teal polyp.'"),  # an unknown word before a noun is no colour
        ("Generate an image of type paris xx.", "'type paris xx.'"),
        ("Generate an image from a sigmoidoscopy procedure.", "expected colonoscopy or gastroscopy"),
        ("Generate an image with an instrument.", "'an instrument' alone constrains nothing"),
        ("Generate an image not containing oesophagitis.", "lacks 'oesophagitis'"),
        ("Generate an image with 2 tubes.", "counts only findings, polyps and instruments"),
        ("Generate an image containing the z-line with the colors red.", "cannot have colours"),
        ("Generate an image with 1 polyp, with 2 polyps.", "conflicting values for polyp_count: 1 and 2"),
        ("Generate an image containing text and", "the end of the prompt"),
        ("Generate an image!", "character '!'"),
        ("   ", "empty prompt"),
    ],
)
def test_unreadable_prompts_raise_naming_the_part(prompt: str, fragment: str) -> None:
    with pytest.raises(PromptParseError) as caught:
        parse(prompt)
    assert isinstance(caught.value, InputError)
    assert fragment in str(caught.value)


_VALUES = {
    key: st.lists(st.sampled_from(values), min_size=1, unique=True).map(sorted) for key, values in LIST_VALUES.items()
}
attribute_sets = st.fixed_dictionaries(
    {},
    optional={
        "procedure": st.sampled_from(PROCEDURES),
        **_VALUES,
        **{key: st.integers(0, 30) for key in COUNT_KEYS},
        **{key: st.booleans() for key in FLAG_KEYS},
    },
)


@settings(derandomize=True, max_examples=200)
@given(attribute_sets)
def test_parse_reads_back_what_phrase_writes(attrs: dict[str, Any]) -> None:
    assert parse(phrase(attrs)) == attrs


@settings(derandomize=True, max_examples=50)
@given(attribute_sets, st.sampled_from(DESCRIPTORS), st.sampled_from(DESCRIPTORS))
def test_descriptors_around_a_rendered_prompt_constrain_nothing(attrs: dict[str, Any], before: str, after: str) -> None:
    assert parse(f"{before}, {phrase(attrs)[:-1]}, {after}.") == attrs


@pytest.mark.parametrize(
    ("prompt", "attributes"),
    [
        (
            "Generate an image with an adenomatous polyp of type paris ip, with a polyp of size >20mm, "
            "white-light colonoscopy.",
            {"polyp_types": ["ip"], "polyp_sizes": [">20mm"]},
        ),
        ("Generate an endoscopic image with 2 polypoid lesions, narrow-band imaging.", {"polyp_count": 2}),
        (
            "Generate an endoscopy photograph containing a colorectal polyp and polyp snare, white-light gastroscopy.",
            {"findings": ["polyp"], "instruments": ["polyp snare"]},
        ),
        (
            "Generate an image containing the pylorus, with an anatomical structure located in the lower-center, "
            "close-up endoscopic view.",
            {"landmarks": ["pylorus"], "landmark_locations": ["lower-center"]},
        ),
        (
            "Create a realistic endoscopy image containing biopsy forceps, with an endoscopic instrument located "
            "in the upper-center, high-definition endoscopy image.",
            {"instruments": ["biopsy forceps"], "instrument_locations": ["upper-center"]},
        ),
        (
            "Generate an endoscopy photograph with 1 surgical instrument, clinical endoscopy photograph, sharp focus.",
            {"instrument_count": 1},
        ),
        ("Create a realistic endoscopy image, white-light colonoscopy.", {}),
    ],
)
def test_search_wordings_parse_like_the_plain_words(prompt: str, attributes: dict[str, Any]) -> None:
    assert parse(prompt) == attributes


@pytest.mark.parametrize(("noun", "synonym"), [(noun, syn) for noun, syns in SYNONYMS.items() for syn in syns])
def test_a_synonym_names_what_its_plain_noun_names(noun: str, synonym: str) -> None:
    def located(word: str) -> dict[str, Any]:
        return parse(f"Generate an image with the {word} located in the center.")

    assert located(synonym) == located(noun)
    if noun != "landmark":
        assert parse(f"Generate an image with 2 {synonym}s.") == parse(f"Generate an image with 2 {noun}s.")


@settings(derandomize=True, max_examples=100)
@given(attribute_sets, st.sampled_from(OPENERS), st.sampled_from(SEARCH_DESCRIPTORS))
def test_openers_and_search_descriptors_constrain_nothing(attrs: dict[str, Any], opener: str, descriptor: str) -> None:
    rendered = phrase(attrs)
    assert parse(f"{opener}{rendered[len(CHALLENGE_OPENER) : -1]}, {descriptor}.") == attrs


_WORDS = (
    "generate an image a the with containing not without no 1 2 polyp polyps of type paris is ip size <5mm 5-10mm "
    "located in center upper-left and , . / pink red colors abnormality instrument tube snareandtube text "
    "green/black box artefact from colonoscopy procedure anatomical landmark z-line findings close-up or "
    "create endoscopy photograph polypoid lesion structure surgical snare white-light"
).split()


@settings(derandomize=True, max_examples=300)
@given(st.one_of(st.text(max_size=40), st.lists(st.sampled_from(_WORDS), max_size=12).map(" ".join)))
def test_parse_returns_a_valid_attribute_set_or_raises_prompt_parse_error(text: str) -> None:
    try:
        attrs = parse(text)
    except PromptParseError:
        return
    validate(attrs)


@pytest.mark.parametrize(
    "prompt",
    [
        "Generate an image containing text.",
        "Generate an image with 1 polyp.",
        "Generate an image with no instruments.",
        "Generate an image from a gastroscopy procedure.",
        "Generate an image with an abnormality with the colors pink and red.",
        "Generate an image with an instrument located in the center and upper-center.",
    ],
)
def test_phrase_writes_challenge_wording(prompt: str) -> None:
    assert phrase(parse(prompt)) == prompt


@pytest.mark.parametrize(
    "attrs",
    [
        {"colour": ["pink"]},
        {"colors": ["Teal"]},
        {"colors": ["pink 5"]},
        {"colors": []},
        {"colors": ["red", "pink"]},
        {"colors": ["pink", "pink"]},
        {"polyp_count": -1},
        {"polyp_count": True},
        {"text": "yes"},
        {"procedure": "sigmoidoscopy"},
    ],
)
def test_phrase_rejects_attribute_sets_it_cannot_write_back(attrs: dict[str, Any]) -> None:
    with pytest.raises(InputError):
        phrase(attrs)


def test_categories_follow_what_the_prompt_asks_for() -> None:
    assert categories({"polyp_count": 0, "instrument_count": 0}) == []
    assert categories({"findings": ["oesophagitis"], "abnormality_locations": ["center"]}) == []
    assert categories({"polyp_count": 2, "landmark_locations": ["center"], "instrument_count": 1}) == [
        "instrument",
        "landmark",
        "polyp",
    ]


LABELS = {
    "findings": ["oesophagitis", "polyp"],
    "polyp_count": 1,
    "colors": ["pink", "red", "white"],
    "text": False,
}


@pytest.mark.parametrize(
    ("prompt_attrs", "expected"),
    [
        ({}, True),
        ({"findings": ["polyp"]}, True),
        ({"findings": ["polyp", "oesophagitis"]}, True),
        ({"findings": ["barretts"]}, False),
        ({"colors": ["pink", "red"]}, True),
        ({"polyp_count": 1, "text": False}, True),
        ({"polyp_count": 2}, False),
        ({"text": True}, False),
        ({"instrument_count": 0}, False),  # the labels do not say: unknown is not true
    ],
)
def test_holds_checks_subsets_and_exact_values(prompt_attrs: dict[str, Any], expected: bool) -> None:
    assert holds(prompt_attrs, LABELS) is expected


def test_aggregate_unites_lists_and_keeps_agreeing_values() -> None:
    parts = [parse("Generate an image containing a polyp."), parse("Generate an image with 1 polyp."), {}]
    parts.append(parse("Generate an image containing oesophagitis."))
    parts.append(parse("Generate an image with 1 polyp."))
    assert aggregate(parts) == {"findings": ["oesophagitis", "polyp"], "polyp_count": 1}
    with pytest.raises(InputError, match="conflicting values for text: True and False"):
        aggregate([{"text": True}, {"text": False}])


# colours in no file of promptopt/ (checked below): nothing special-cases them
UNSEEN = ("cerulean", "mauve", "chartreuse", "ochre")


@pytest.mark.parametrize(
    ("prompt", "colors"),
    [
        ("Generate an image with an abnormality with the color cerulean.", ["cerulean"]),
        ("Generate an image with an abnormality with the colors pink and mauve.", ["mauve", "pink"]),
        ("Generate an image with an abnormality with the colours chartreuse/ochre.", ["chartreuse", "ochre"]),
        ("Generate an image with an abnormality with the color pale pink.", ["pale pink"]),
        ("Generate an image with an abnormality with the colors sea green and dark red.", ["dark red", "sea green"]),
        ("Generate an image with a pale pink polyp.", ["pale pink"]),
        ("Generate an image with a yelow polyp.", ["yellow"]),  # one-letter slips of a known colour
        ("Generate an image with an abnormality with the colors purpel and bleu.", ["blue", "purple"]),
    ],
)
def test_colours_outside_the_development_list_read_as_colours(prompt: str, colors: list[str]) -> None:
    assert parse(prompt)["colors"] == colors
    validate(parse(prompt))
    assert parse(phrase(parse(prompt)))["colors"] == colors


def test_an_open_colour_stops_at_the_next_clause() -> None:
    attrs = parse(
        "Generate an image with an abnormality with the color ochre located in the upper-left, containing text."
    )
    assert attrs == {"colors": ["ochre"], "abnormality_locations": ["upper-left"], "text": True}


def test_the_unseen_colours_are_in_no_source_file() -> None:
    root = Path(__file__).resolve().parents[3] / "promptopt"
    text = "\n".join(path.read_text(encoding="utf-8") for path in root.rglob("*.py")).lower()
    assert not [c for c in UNSEEN if c in text]
