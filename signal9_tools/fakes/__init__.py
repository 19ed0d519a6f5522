"""Local fakes of the external APIs (Alpaca, AlphaVantage): tooling, never Lambda code."""
