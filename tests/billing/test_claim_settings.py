"""The claim path honours the Settings it is given: two ClaimBuilders with different licensed CPT files
(written here in our own words, no AMA descriptors), side by side in one process (issue 17)."""

from __future__ import annotations

from pathlib import Path

from chartcoder.billing.assembler import load_fee_schedule
from chartcoder.config import Settings


def test_claim_builders_side_by_side_check_codes_by_their_own_file(
    tmp_path: Path,
) -> None:
    """The claim path: each ClaimBuilder's scrubber holds its own Settings' CPT set, so a code only file B
    carries passes B's code-set edit and is an error under A (a licensed file is loaded there too)."""
    from test_assembler import encounter

    from chartcoder.billing.service import ClaimBuilder

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "cpt.csv").write_text("code,description\n93000,HOUSE A WORDING FOR THE HEART TRACING\n")
    (tmp_path / "b" / "cpt.csv").write_text(
        "code,description\n93000,HOUSE B WORDING FOR THE HEART TRACING\n0002U,HOUSE B LAB PANEL\n"
    )
    sample = Path(load_fee_schedule().source).read_text(encoding="utf-8")
    fees = tmp_path / "fees.csv"
    fees.write_text(sample.rstrip("\n") + "\n0002U,,45.00\n", encoding="utf-8")
    sa = Settings(data_dir=tmp_path, cpt_file=tmp_path / "a" / "cpt.csv", fee_schedule_file=fees)
    sb = Settings(data_dir=tmp_path, cpt_file=tmp_path / "b" / "cpt.csv", fee_schedule_file=fees)
    enc = encounter()
    enc["codes"].append({"code": "0002U", "system": "CPT", "state": "added"})
    builders = {"a": ClaimBuilder(sa), "b": ClaimBuilder(sb)}
    assert builders["a"].scrubber.context.cpt.lookup("93000").description.startswith("HOUSE A")
    assert builders["b"].scrubber.context.cpt.lookup("93000").description.startswith("HOUSE B")

    def about_0002u(name: str) -> list[dict]:
        claim, findings = builders[name].build(enc)
        assert "0002U" in {line.code for line in claim.lines}
        return [f for f in findings if "0002U" in f["message"] and "code set" in f["message"]]

    assert about_0002u("b") == []
    a = about_0002u("a")
    assert len(a) == 1 and a[0]["severity"] == "error" and "not in the loaded CPT code set" in a[0]["message"]
