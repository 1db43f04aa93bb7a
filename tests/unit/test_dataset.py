"""How customers and items become LightFM features."""

import pandas as pd
import pytest

from salesbot.recommender.dataset import customer_features


def test_customer_attributes_take_the_share_they_are_given():
    people = pd.DataFrame(
        {"customer_id": ["a", "b"], "segment": ["pro", None], "country": ["DE", None], "attributes": [{}, {}]}
    )
    order = pd.Index(["a", "b"])
    weighted = customer_features(people, order, share=0.2).matrix.toarray()
    assert weighted[0, 0] == pytest.approx(0.8)  # a's identity
    assert sorted(weighted[0, 2:]) == pytest.approx([0.1, 0.1])  # segment and country share the 0.2
    assert weighted[1, 1] == pytest.approx(1.0)  # b has nothing but its identity
    assert customer_features(people, order, share=0.0).matrix.shape == (2, 2)  # attributes left out
    equal = customer_features(people, order).matrix.toarray()
    assert equal[0, 0] == pytest.approx(1 / 3)
