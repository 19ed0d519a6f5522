"""The fakes' randomness: private to each company and purpose, the same in every run."""

from __future__ import annotations

from signal9_tools.fakes.universe import draw, rng, universe


def test_a_remembered_draw_is_the_first_number_of_its_random_source() -> None:
    companies = universe(12)
    salts = ["price", "price/2026-03-02", "volume/2026-03-02", "trades/2026-12-24", "base-volume", ""]
    for company in companies:
        for salt in salts:
            expected = rng(company, salt).random()
            assert draw(company, salt) == expected == draw(company.symbol, salt), (company.symbol, salt)
    # Private to each company and purpose.
    assert len({draw(company, salt) for company in companies for salt in salts}) == len(companies) * len(salts)
