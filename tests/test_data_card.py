"""The dataset card: huggingface_hub reads its front matter; its sections come in order; its
recipe block is the recipe the build recorded."""
import json

import yaml

SECTIONS = ["# Cadmus true programs", "## Counts per split and family", "## Independence of the held-out splits",
            "## Content hashes (sha256)", "## Columns", "## Views", "## Family conventions", "## Audit", "## Recipe"]


def test_card_front_matter_sections_and_recipe(tiny_data):
    from huggingface_hub import DatasetCard

    card = DatasetCard.load(tiny_data / "README.md")
    assert card.data.license == "mit" and card.data.pretty_name == "Cadmus true programs"
    assert card.data.task_categories == ["text-generation"] and "cadmus" in card.data.tags
    lines = card.text.splitlines()
    starts = [next(i for i, line in enumerate(lines) if line.startswith(s)) for s in SECTIONS]
    assert starts == sorted(starts), "sections out of order"
    build_info = json.loads((tiny_data / "build_info.json").read_text())
    recipe = yaml.safe_load(card.text.split("## Recipe\n\n```yaml\n")[1].split("```")[0])
    assert recipe == build_info["recipe"]
    for name, digest in build_info["hashes"].items():
        assert f"* `{name}`: `{digest}`" in card.text
    assert card.text.endswith("```\n") and "{{" not in card.text  # every template field was filled
