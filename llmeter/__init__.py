"""LLMeter: per-customer LLM cost, revenue and margin, computed in a dbt project on DuckDB."""

__version__ = "0.1.0"
