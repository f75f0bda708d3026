"""The prompt reader of the image line (`fancy_lib.image.caption.read_prompt`): every caption of the grammar reads as
itself, a free prompt reads order-free with the grammar's filler words, and a prompt that cannot be read in one way is
a `PromptError` naming the slot and the words. The reader needs no torch: the quant line never loads it."""
import subprocess
import sys
from itertools import product

import pytest

from conftest import ROOT
from fancy_lib.image.caption import (CAPTION_GRAMMAR, PROMPT_DEFAULTS, CaptionError, PromptError, Scene, parse_caption,
                                     read_prompt)


def every_caption():
    return [Scene(*words).caption() for words in product(*CAPTION_GRAMMAR.slots.values())]


def refused(text) -> PromptError:
    with pytest.raises(PromptError) as e:
        read_prompt(text)
    return e.value


def test_every_grammar_caption_reads_as_itself():
    caps = every_caption()
    assert len(caps) == 2 * 6 * 4 * 5 * 3
    for c in caps:
        r = read_prompt(c)
        assert r.caption == c and r.defaulted == () and r.scene == parse_caption(c)


def test_order_case_and_punctuation_do_not_matter():
    want = "a small blue triangle at the top on a black background"
    for text in ("black background, top, small blue triangle", "TRIANGLE blue small top black",
                 "On a black background: a small blue triangle, at the top!", want.upper()):
        assert read_prompt(text).caption == want, text


def test_filler_words_of_the_grammar_are_skipped():
    r = read_prompt("a the on in at a red circle on the background")
    assert r.caption == "a large red circle in the center on a white background"
    assert r.defaulted == ("size", "position", "background")


def test_missing_slots_take_the_stated_defaults_and_colour_and_shape_are_required():
    assert PROMPT_DEFAULTS == {"size": "large", "position": "center", "background": "white"}
    r = read_prompt("green cross on the right")
    assert r.caption == "a large green cross on the right on a white background" and r.defaulted == ("size", "background")
    assert (refused("a large circle").code, refused("a large circle").slot) == ("missing_word", "colour")
    assert "names no colour: add one of red, orange" in str(refused("a white circle"))   # white is a background here
    assert refused("a red thing on the left").slot is None                              # 'thing' is not a word of the grammar
    assert (refused("red on the left").code, refused("red on the left").slot) == ("missing_word", "shape")


def test_contradictory_colours_are_refused_naming_both():
    e = refused("a red blue circle")
    assert isinstance(e, CaptionError) and isinstance(e, ValueError)
    assert (e.code, e.slot, e.words) == ("conflicting_words", "colour", ("red", "blue"))
    assert "two colours: 'red' and 'blue'" in str(e)
    assert refused("red circle blue").words == ("red", "blue")                           # wherever they stand
    assert read_prompt("red circle, red").scene.colour == "red"                          # the same word twice is one colour


def test_two_backgrounds_and_two_positions_are_refused():
    e = refused("a red circle on a white background on a black background")
    assert (e.slot, e.words) == ("background", ("white", "black")) and "two backgrounds: 'white' and 'black'" in str(e)
    e = refused("a red circle at the top on the left")
    assert (e.slot, e.words) == ("position", ("top", "left"))
    assert "three shapes: 'circle', 'square' and 'cross'" in str(refused("red circle square cross"))


def test_unknown_word_is_named_with_a_suggestion():
    e = refused("a red circel")
    assert (e.code, e.slot, e.words) == ("unknown_word", None, ("circel",))
    assert "unknown word 'circel' (did you mean 'circle'?)" in str(e)
    assert "colour: red, orange, yellow, green, blue, purple" in str(e)                 # the vocabulary, by slot
    assert "did you mean 'center'" in str(refused("red circle centre"))
    assert refused("a red circle, not blue").words == ("not",)                          # a negation is never read as its opposite
    assert refused("a pink elephant").words == ("pink", "elephant")


@pytest.mark.parametrize("text", ["", "   ", "a the on", None])
def test_empty_prompt_is_refused(text):
    e = refused(text)
    assert e.code == "empty_prompt" and "is empty" in str(e) and "e.g. 'red circle'" in str(e)


def test_the_caption_module_needs_no_torch():
    code = ("import sys, fancy_lib.image.caption as c; c.read_prompt('red circle'); c.render_scene('a large red circle on the left on a "
            "white background'); print(sorted(m for m in ('torch', 'diffusers') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "[]"
