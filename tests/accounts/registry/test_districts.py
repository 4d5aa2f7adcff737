"""An enterprise's district: any county-level division of Zhejiang, Lishui's nine as before."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from accounts.registry import EnterpriseRecord

_CODE = "91331102MA2CX001XC"


def _record(district: str) -> EnterpriseRecord:
    return EnterpriseRecord(code=_CODE, name="示例", industry_code="1713", district=district)


@pytest.mark.parametrize("district", ["莲都区", "景宁畲族自治县", "萧山区", "义乌市", "嵊泗县"])
def test_a_county_level_division_of_zhejiang_is_a_district(district: str) -> None:
    assert _record(f" {district} ").district == district


def test_a_near_miss_is_told_the_nearest_names() -> None:
    with pytest.raises(ValidationError) as caught:
        _record("莲都")
    (error,) = caught.value.errors()
    assert str(error["msg"]).endswith("did you mean 莲都区?")
    assert "上城区" not in str(error["msg"])  # the nearest names, not all 90
