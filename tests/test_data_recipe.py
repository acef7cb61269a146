"""Data recipes: parsing, defaults, and errors that name the file and the key."""
import pytest

from cadmus.data.recipe import SPLITS, RecipeError, load_recipe


def write(tmp_path, text):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return path


BASE = "mixture: {arith: 1, gcd: 1}\nsplits: {train: {size: 10}}\n"


def test_shipped_recipes_parse(repo_root):
    for name in ("default.yaml", "tiny.yaml"):
        recipe = load_recipe(repo_root / "cadmus" / "recipes" / "data" / name)
        assert set(recipe.splits) == set(SPLITS) and recipe.mixture["arith"] > 0
        assert recipe.params("ood_numbers").numbers[0] > recipe.params("train").numbers[1]


def test_recipes_ask_for_ten_hidden_tests(tmp_path, repo_root):
    """Hidden tests that discriminate need room: a family's edge cases, then random ones."""
    assert load_recipe(write(tmp_path, BASE)).n_challenge == 10
    with pytest.raises(RecipeError, match=r"r\.yaml: n_challenge must be >= 10 .* got 2"):
        load_recipe(write(tmp_path, BASE + "n_challenge: 2\n"))
    with pytest.raises(RecipeError, match="n_tests must be >= 3, got 1"):
        load_recipe(write(tmp_path, BASE + "n_tests: 1\n"))
    for name in ("default.yaml", "tiny.yaml", "quickstart.yaml"):
        recipe = load_recipe(repo_root / "cadmus" / "recipes" / "data" / name)
        assert recipe.n_tests == 3 and recipe.n_challenge >= 10, name


def test_shipped_held_out_families_are_solved_by_no_train_family(repo_root):
    """gcd_recursive is not held out (train's iterative gcd solves it); binomial is, and is
    listed in the mixture (tests/test_families.py checks no train program passes them)."""
    for name in ("default.yaml", "tiny.yaml"):
        recipe = load_recipe(repo_root / "cadmus" / "recipes" / "data" / name)
        assert set(recipe.held_out_families) == {"lcm", "rotate_left", "binomial"}, name
        assert set(recipe.families_of("ood_family")) == {"lcm", "rotate_left", "binomial"}
        assert "gcd_recursive" in recipe.families_of("train") and "binomial" not in recipe.families_of("train")


def test_unknown_top_level_key_names_key_and_file(tmp_path):
    path = write(tmp_path, BASE + "sede: 3\n")
    with pytest.raises(RecipeError, match=r"r\.yaml: unknown key 'sede'"):
        load_recipe(path)


def test_unknown_nested_key(tmp_path):
    with pytest.raises(RecipeError, match=r"unknown key 'splits\.train\.sise'"):
        load_recipe(write(tmp_path, "mixture: {arith: 1}\nsplits: {train: {sise: 10}}\n"))
    with pytest.raises(RecipeError, match=r"unknown key 'distribution\.digits'"):
        load_recipe(write(tmp_path, BASE + "distribution: {digits: 2}\n"))
    with pytest.raises(RecipeError, match=r"unknown key 'splits\.dev'"):
        load_recipe(write(tmp_path, "mixture: {arith: 1}\nsplits: {dev: {size: 10}}\n"))


def test_bad_values_are_errors(tmp_path):
    with pytest.raises(RecipeError, match="unknown family 'arithmetic'"):
        load_recipe(write(tmp_path, "mixture: {arithmetic: 1}\n"))
    with pytest.raises(RecipeError, match=r"distribution\.numbers must be \[lo, hi\]"):
        load_recipe(write(tmp_path, BASE + "distribution: {numbers: [9, 1]}\n"))
    with pytest.raises(RecipeError, match="seed must be int"):
        load_recipe(write(tmp_path, BASE + "seed: abc\n"))
    with pytest.raises(RecipeError, match="overlaps distribution.numbers"):
        load_recipe(write(tmp_path, BASE.replace("}}", "}, ood_numbers: {size: 5, numbers: [50, 500]}}")))
    with pytest.raises(RecipeError, match="must also appear in mixture"):
        load_recipe(write(tmp_path, BASE + "held_out_families: [lcm]\n"))
    with pytest.raises(RecipeError, match="cannot read recipe"):
        load_recipe(tmp_path / "missing.yaml")


def test_overrides_and_inheritance(tmp_path):
    recipe = load_recipe(write(tmp_path, BASE + "splits: {train: {size: 10}, ood_length: {size: 4, lengths: [9, 12]}}\n"),
                         {"seed": 42})
    assert recipe.seed == 42
    assert recipe.params("ood_length").lengths == (9, 12)
    assert recipe.params("ood_length").numbers == recipe.params("train").numbers == (0, 99)
    assert recipe.splits["valid"].size == 0


def test_a_split_can_draw_from_its_own_mixture(tmp_path, repo_root):
    recipe = load_recipe(write(tmp_path, "mixture: {arith: 2, copy: 1}\n"
                                         "splits: {train: {size: 10}, test: {size: 5, mixture: {arith: 1}}}\n"))
    assert recipe.families_of("train") == {"arith": 2, "copy": 1}
    assert recipe.families_of("valid") == {"arith": 2, "copy": 1}  # no override: the recipe's mixture
    assert recipe.families_of("test") == {"arith": 1}
    with pytest.raises(RecipeError, match=r"splits\.test\.mixture: unknown family 'cpy'"):
        load_recipe(write(tmp_path, "mixture: {arith: 1}\nsplits: {test: {size: 5, mixture: {cpy: 1}}}\n"))
    with pytest.raises(RecipeError, match=r"splits\.test\.mixture\.arith must be a weight"):
        load_recipe(write(tmp_path, "mixture: {arith: 1}\nsplits: {test: {size: 5, mixture: {arith: -1}}}\n"))
    shipped = load_recipe(repo_root / "cadmus" / "recipes" / "data" / "quickstart.yaml")
    assert set(shipped.families_of("train")) == {"arith", "copy"} and set(shipped.families_of("test")) == {"arith"}
