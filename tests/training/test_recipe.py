"""The recipe: LIMA's defaults, overrides by name, clear errors, "auto" values by model size."""

import json

import pytest

from training.engine import __main__ as cli
from training.engine.recipe import Recipe, RecipeError, from_overrides, resolve


def test_the_defaults_are_limas():
    recipe = Recipe()
    assert (recipe.epochs, recipe.learning_rate, recipe.final_learning_rate, recipe.warmup_steps) == (15, 1e-5, 1e-6, 0)
    assert (recipe.adam_beta1, recipe.adam_beta2, recipe.weight_decay) == (0.9, 0.95, 0.1)
    assert recipe.max_length == 2048
    assert recipe.lora is False


def test_overrides_apply_by_name_and_accept_strings_from_a_form():
    recipe = from_overrides({"epochs": "3", "learning_rate": "2e-5", "lora": "true", "batch_size": 16, "residual_dropout": "0.1"})
    assert (recipe.epochs, recipe.learning_rate, recipe.lora, recipe.batch_size, recipe.residual_dropout) == (3, 2e-5, True, 16, 0.1)
    assert from_overrides({"batch_size": "auto"}).batch_size == "auto"


def test_an_unknown_key_is_refused_with_a_suggestion():
    with pytest.raises(RecipeError, match=r"unknown recipe key\(s\): 'learning_rat' \(did you mean 'learning_rate'\?\)"):
        from_overrides({"learning_rat": 1e-4})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"epochs": 0}, "'epochs' must be >= 1"),
        ({"epochs": 2.5}, "'epochs': expected an integer"),
        ({"learning_rate": "fast"}, "'learning_rate': expected a number"),
        ({"lora": "maybe"}, "'lora': expected true or false"),
        ({"residual_dropout": 1.5}, "'residual_dropout' must be"),
    ],
)
def test_a_bad_value_names_its_key(overrides, message):
    with pytest.raises(RecipeError, match=message):
        from_overrides(overrides)


def test_auto_picks_limas_small_model_values_below_the_threshold():
    small = resolve(Recipe(), parameters=7_000_000_000, on_gpu=False)
    large = resolve(Recipe(), parameters=65_000_000_000, on_gpu=True)
    assert (small.batch_size, small.residual_dropout, small.bf16, small.gradient_checkpointing) == (64, 0.2, False, False)
    assert (large.batch_size, large.residual_dropout, large.bf16, large.gradient_checkpointing) == (32, 0.3, True, True)
    assert resolve(from_overrides({"batch_size": 8}), 1000, False).batch_size == 8


def test_show_recipe_prints_the_defaults_as_json(capsys):
    assert cli.main(["--show-recipe"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown == Recipe().to_dict()
    assert shown["epochs"] == 15 and shown["batch_size"] == "auto"


def test_the_new_knobs_default_to_what_keeps_limas_maths():
    recipe = Recipe()
    assert recipe.overlong == "cut" and recipe.packing == "auto" and recipe.compile is False
    assert recipe.save_every_steps == 0 and recipe.lora_learning_rate == 2e-4


def test_text_values_are_checked_against_their_choices():
    assert from_overrides({"overlong": "drop"}).overlong == "drop"
    with pytest.raises(RecipeError, match="'overlong': expected one of cut, drop, got 'trim'"):
        from_overrides({"overlong": "trim"})
    assert from_overrides({"gradient_checkpointing": "selective"}).gradient_checkpointing == "selective"
    assert from_overrides({"packing": "true"}).packing is True
    with pytest.raises(RecipeError, match="'save_every_steps' must be >= 0"):
        from_overrides({"save_every_steps": -1})


def test_packing_auto_is_on_only_on_a_gpu_with_varlen_attention():
    assert resolve(Recipe(), 1000, on_gpu=True, varlen_attention=True).packing is True
    assert resolve(Recipe(), 1000, on_gpu=True, varlen_attention=False).packing is False
    assert resolve(Recipe(), 1000, on_gpu=False).packing is False
    assert resolve(from_overrides({"packing": True}), 1000, on_gpu=False).packing is True
