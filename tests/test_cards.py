"""Model cards are rewritten a section at a time (avemo.cards.put_section) by several training stages."""
from __future__ import annotations

from avemo.cards import put_section

CARD = "# model\n\n## A\n\nold a\n\n## B\n\nb\n\n## Not measured\n\n- video\n"


def test_a_rewritten_section_stays_where_it_was(tmp_path):
    card = tmp_path / "README.md"
    card.write_text(CARD)
    put_section(card, "## A", "## A\n\nnew a\n\n", before="## Not measured")
    assert card.read_text() == CARD.replace("old a", "new a")


def test_a_new_section_goes_before_its_anchor_and_the_last_section_can_be_replaced(tmp_path):
    card = tmp_path / "README.md"
    card.write_text(CARD)
    put_section(card, "## C", "## C\n\nc\n\n", before="## Not measured")
    assert card.read_text().index("## B") < card.read_text().index("## C") < card.read_text().index("## Not measured")
    put_section(card, "## Not measured", "## Not measured\n\n- video, audio\n", before="## Z")
    assert card.read_text().endswith("## Not measured\n\n- video, audio\n") and "- video\n" not in card.read_text()
